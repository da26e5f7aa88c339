import { chunkId } from "./chunk-id.js";

/** How a document is cut: lengths in Unicode code points. */
export interface ChunkingOptions {
  /** Maximum chunk length. The paper uses 1,500. */
  chunkSize: number;
  /** Code points shared by consecutive chunks; smaller than chunkSize. */
  chunkOverlap: number;
}

export const DEFAULT_CHUNKING: ChunkingOptions = { chunkSize: 1500, chunkOverlap: 0 };

/** A piece of a document, with offsets in code points into the document text. */
export interface TextChunk {
  id: string;
  index: number;
  text: string;
  startOffset: number;
  endOffset: number;
}

export interface ChunkableDocument {
  collection: string;
  documentId: string;
  text: string;
}

function isWhitespace(codePoint: number): boolean {
  // The common whitespace set of \s, tested without a regex because this runs once per character.
  return (
    codePoint === 0x20 ||
    (codePoint >= 0x09 && codePoint <= 0x0d) ||
    codePoint === 0xa0 ||
    codePoint === 0x1680 ||
    (codePoint >= 0x2000 && codePoint <= 0x200a) ||
    codePoint === 0x2028 ||
    codePoint === 0x2029 ||
    codePoint === 0x202f ||
    codePoint === 0x205f ||
    codePoint === 0x3000 ||
    codePoint === 0xfeff
  );
}

function unitsOf(codePoint: number): number {
  return codePoint > 0xffff ? 2 : 1;
}

/** Code points between two UTF-16 positions. */
function countCodePoints(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i += unitsOf(text.codePointAt(i)!)) count++;
  return count;
}

function skipWhitespace(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    if (!isWhitespace(cp)) break;
    i += unitsOf(cp);
  }
  return i;
}

/** Moves back over trailing whitespace so that a chunk never ends with it. */
function trimEnd(text: string, from: number, to: number): number {
  let end = to;
  while (end > from) {
    const last = text.charCodeAt(end - 1);
    const start = last >= 0xdc00 && last <= 0xdfff && end - 2 >= from ? end - 2 : end - 1;
    if (!isWhitespace(text.codePointAt(start)!)) break;
    end = start;
  }
  return end;
}

/** UTF-16 position `count` code points before `from` (not before `floor`). */
function stepBack(text: string, from: number, count: number, floor: number): number {
  let i = from;
  for (let n = 0; n < count && i > floor; n++) {
    const unit = text.charCodeAt(i - 1);
    i -= unit >= 0xdc00 && unit <= 0xdfff && i - 2 >= floor ? 2 : 1;
  }
  return i;
}

/** Moves forward to the start of the next word unless `at` already starts one. */
function alignToWordStart(text: string, at: number): number {
  if (at === 0) return skipWhitespace(text, 0);
  const before = text.charCodeAt(at - 1);
  const beforeStart = before >= 0xdc00 && before <= 0xdfff && at >= 2 ? at - 2 : at - 1;
  if (isWhitespace(text.codePointAt(beforeStart)!)) return skipWhitespace(text, at);
  let i = at;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    if (isWhitespace(cp)) break;
    i += unitsOf(cp);
  }
  return skipWhitespace(text, i);
}

/**
 * Cuts a document into chunks of at most `chunkSize` code points, ending only at whitespace so that no word
 * is split; a single word longer than a chunk is the one case that is cut hard. Chunks carry no leading or
 * trailing whitespace, and a chunk's text is exactly the code points between its offsets.
 * Consecutive chunks share about `chunkOverlap` code points, rounded to whole words.
 */
export function chunkDocument(doc: ChunkableDocument, options: ChunkingOptions = DEFAULT_CHUNKING): TextChunk[] {
  const { chunkSize, chunkOverlap } = options;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError("chunkSize must be a positive integer");
  if (!Number.isInteger(chunkOverlap) || chunkOverlap < 0 || chunkOverlap >= chunkSize) {
    throw new RangeError("chunkOverlap must be an integer in 0..chunkSize-1");
  }
  const { text } = doc;
  const chunks: TextChunk[] = [];
  let pos = skipWhitespace(text, 0);
  let posCodePoints = countCodePoints(text, 0, pos);
  while (pos < text.length) {
    let i = pos;
    let taken = 0;
    let lastWordEnd = -1;
    let previousWasSpace = false;
    while (i < text.length && taken < chunkSize) {
      const cp = text.codePointAt(i)!;
      const space = isWhitespace(cp);
      if (space && !previousWasSpace && i > pos) lastWordEnd = i;
      previousWasSpace = space;
      i += unitsOf(cp);
      taken++;
    }
    let end: number;
    if (i >= text.length || isWhitespace(text.codePointAt(i)!)) end = i;
    else if (lastWordEnd > pos) end = lastWordEnd;
    else end = i; // one word longer than a whole chunk: the only hard cut
    end = trimEnd(text, pos, end);
    const length = countCodePoints(text, pos, end);
    const index = chunks.length;
    chunks.push({
      id: chunkId(doc.collection, doc.documentId, index),
      index,
      text: text.slice(pos, end),
      startOffset: posCodePoints,
      endOffset: posCodePoints + length,
    });
    const endCodePoints = posCodePoints + length;
    let next = skipWhitespace(text, end);
    if (chunkOverlap > 0 && next < text.length) {
      const overlapStart = alignToWordStart(text, stepBack(text, end, chunkOverlap, pos));
      if (overlapStart > pos && overlapStart < end) next = overlapStart;
    }
    posCodePoints =
      next >= end ? endCodePoints + countCodePoints(text, end, next) : endCodePoints - countCodePoints(text, next, end);
    pos = next;
  }
  return chunks;
}
