import type { ScoredChunk, StoredChunk } from "../backend/vector-store-backend.js";
import { PostingList } from "./posting-list.js";
import { distinctTerms, tokenize } from "./tokenize.js";

export interface Bm25Parameters {
  /** Term-frequency saturation. */
  k1: number;
  /** Length normalisation, 0 (none) to 1 (full). */
  b: number;
}

/** Anserini's defaults for passage retrieval (Lin et al.), the reference this index is tested against. */
export const DEFAULT_BM25_PARAMETERS: Bm25Parameters = { k1: 0.9, b: 0.4 };

/** Prune dead postings once this many chunks were removed and they are a quarter of the live ones. */
const PRUNE_AFTER_REMOVALS = 1000;

/**
 * Okapi BM25 over every chunk of a collection, exactly: an inverted index kept in memory and updated with every
 * write, so a search always ranks all rows with current statistics (no indexed/unindexed split) and returns them
 * best first, ties broken by chunk id.
 *
 * score(q, c) = Σ over distinct terms t of q: idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·|c|/avgdl)),
 * idf(t) = ln(1 + (N − df + 0.5)/(df + 0.5)) (Lucene's, never negative).
 */
export class Bm25Index {
  private readonly termIds = new Map<string, number>();
  private readonly postings: PostingList[] = [];
  /** Live chunks holding each term. */
  private readonly documentFrequency: number[] = [];
  /** By ordinal; undefined once removed (ordinals are never reused). */
  private readonly chunks: (StoredChunk | undefined)[] = [];
  private readonly lengths: number[] = [];
  /** Distinct term ids of each live chunk, so removal can undo its document frequencies. */
  private readonly chunkTerms: (Int32Array | undefined)[] = [];
  private readonly ordinalById = new Map<string, number>();
  private readonly ordinalsByDocument = new Map<string, number[]>();
  /** Ordinals per metadata entry (key and value), for filters. May hold removed ordinals until pruned. */
  private readonly ordinalsByMetadata = new Map<string, number[]>();
  private liveChunks = 0;
  private totalLength = 0;
  private removedSincePrune = 0;
  /** Score accumulator, one slot per ordinal, all zero between searches. */
  private scratch = new Float64Array(0);
  /** Ordinals whose score a search made non-zero. */
  private touched = new Int32Array(0);

  constructor(private readonly parameters: Bm25Parameters = DEFAULT_BM25_PARAMETERS) {}

  get size(): number {
    return this.liveChunks;
  }

  /** Replaces every chunk the documents had with the ones given (an empty list removes the document). */
  upsertDocument(documentId: string, chunks: StoredChunk[]): void {
    this.removeDocument(documentId);
    for (const chunk of chunks) this.addChunk(chunk);
  }

  /** Number of chunks removed. */
  removeDocument(documentId: string): number {
    const ordinals = this.ordinalsByDocument.get(documentId);
    if (!ordinals) return 0;
    let removed = 0;
    for (const ordinal of ordinals) if (this.removeOrdinal(ordinal)) removed++;
    this.ordinalsByDocument.delete(documentId);
    this.pruneIfWorthIt();
    return removed;
  }

  search(text: string, topK: number, filter: Record<string, string> = {}): ScoredChunk[] {
    if (this.liveChunks === 0) return [];
    const termIds = distinctTerms(text)
      .map((term) => this.termIds.get(term))
      .filter((id): id is number => id !== undefined && this.documentFrequency[id]! > 0);
    if (termIds.length === 0) return [];
    const allowed = this.filterMask(filter);
    if (allowed === null) return [];

    if (this.scratch.length < this.chunks.length) {
      this.scratch = new Float64Array(this.chunks.length * 2);
      this.touched = new Int32Array(this.chunks.length * 2);
    }
    const { scratch: scores, touched } = this;
    let touchedCount = 0;
    const { k1, b } = this.parameters;
    const n = this.liveChunks;
    const lengthFactor = (k1 * b) / (this.totalLength / n || 1);
    const baseNorm = k1 * (1 - b);
    for (const termId of termIds) {
      const df = this.documentFrequency[termId]!;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      const weight = idf * (k1 + 1);
      const list = this.postings[termId]!;
      const { ordinals, frequencies } = list;
      for (let i = 0; i < list.length; i++) {
        const ordinal = ordinals[i]!;
        if (this.chunks[ordinal] === undefined || (allowed && !allowed[ordinal])) continue;
        const tf = frequencies[i]!;
        if (scores[ordinal] === 0) touched[touchedCount++] = ordinal;
        scores[ordinal]! += (weight * tf) / (tf + baseNorm + lengthFactor * this.lengths[ordinal]!);
      }
    }
    const best = this.selectBest(touchedCount, topK);
    const hits = best.map((ordinal) => ({ chunk: this.chunks[ordinal]!, score: scores[ordinal]! }));
    for (let i = 0; i < touchedCount; i++) scores[touched[i]!] = 0;
    return hits;
  }

  /**
   * The k best touched ordinals, best first (score, then chunk id): a bounded min-heap over ordinals, so a query
   * touching most of the collection allocates nothing per candidate.
   */
  private selectBest(touchedCount: number, k: number): number[] {
    const { scratch: scores, touched, chunks } = this;
    /** a ranks below b. */
    const below = (a: number, b: number) =>
      scores[a]! < scores[b]! || (scores[a] === scores[b] && chunks[a]!.id > chunks[b]!.id);
    const heap: number[] = [];
    const siftDown = () => {
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        let lowest = i;
        if (left < heap.length && below(heap[left]!, heap[lowest]!)) lowest = left;
        if (left + 1 < heap.length && below(heap[left + 1]!, heap[lowest]!)) lowest = left + 1;
        if (lowest === i) return;
        [heap[i], heap[lowest]] = [heap[lowest]!, heap[i]!];
        i = lowest;
      }
    };
    for (let t = 0; t < touchedCount; t++) {
      const ordinal = touched[t]!;
      if (heap.length < k) {
        heap.push(ordinal);
        for (let i = heap.length - 1; i > 0; ) {
          const parent = (i - 1) >> 1;
          if (!below(heap[i]!, heap[parent]!)) break;
          [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
          i = parent;
        }
      } else if (below(heap[0]!, ordinal)) {
        heap[0] = ordinal;
        siftDown();
      }
    }
    return heap.sort((a, b) => (below(a, b) ? 1 : below(b, a) ? -1 : 0));
  }

  /** Adds one chunk (replacing a chunk with the same id); for loading a collection chunk by chunk. */
  addChunk(chunk: StoredChunk): void {
    const stale = this.ordinalById.get(chunk.id);
    if (stale !== undefined) this.removeOrdinal(stale);
    const ordinal = this.chunks.length;
    const terms = tokenize(chunk.text);
    const counts = new Map<number, number>();
    for (const term of terms) {
      const termId = this.termIdOf(term);
      counts.set(termId, (counts.get(termId) ?? 0) + 1);
    }
    for (const [termId, frequency] of counts) {
      this.postings[termId]!.push(ordinal, frequency);
      this.documentFrequency[termId]!++;
    }
    const { vector: _vector, ...stored } = chunk;
    this.chunks.push(stored);
    this.lengths.push(terms.length);
    this.chunkTerms.push(Int32Array.from(counts.keys()));
    this.ordinalById.set(chunk.id, ordinal);
    appendTo(this.ordinalsByDocument, chunk.documentId, ordinal);
    for (const entry of Object.entries(chunk.metadata)) appendTo(this.ordinalsByMetadata, metadataKey(entry), ordinal);
    this.liveChunks++;
    this.totalLength += terms.length;
  }

  private removeOrdinal(ordinal: number): boolean {
    const chunk = this.chunks[ordinal];
    if (!chunk) return false;
    for (const termId of this.chunkTerms[ordinal]!) this.documentFrequency[termId]!--;
    if (this.ordinalById.get(chunk.id) === ordinal) this.ordinalById.delete(chunk.id);
    this.chunks[ordinal] = undefined;
    this.chunkTerms[ordinal] = undefined;
    this.liveChunks--;
    this.totalLength -= this.lengths[ordinal]!;
    this.removedSincePrune++;
    return true;
  }

  private termIdOf(term: string): number {
    let termId = this.termIds.get(term);
    if (termId === undefined) {
      termId = this.postings.length;
      this.termIds.set(term, termId);
      this.postings.push(new PostingList());
      this.documentFrequency.push(0);
    }
    return termId;
  }

  /** undefined: no filter; null: nothing can match; else a byte per ordinal, 1 where every entry matches. */
  private filterMask(filter: Record<string, string>): Uint8Array | undefined | null {
    const entries = Object.entries(filter);
    if (entries.length === 0) return undefined;
    const lists = entries.map((entry) => this.ordinalsByMetadata.get(metadataKey(entry)));
    if (lists.some((list) => list === undefined)) return null;
    const mask = new Uint8Array(this.chunks.length);
    for (const list of lists) for (const ordinal of list!) mask[ordinal]!++;
    // In place: 1 where every entry matched (a count of lists.length), 0 elsewhere.
    let matched = false;
    for (let ordinal = 0; ordinal < mask.length; ordinal++) {
      mask[ordinal] = mask[ordinal] === lists.length ? 1 : 0;
      matched ||= mask[ordinal] === 1;
    }
    return matched ? mask : null;
  }

  private pruneIfWorthIt(): void {
    if (this.removedSincePrune < PRUNE_AFTER_REMOVALS || this.removedSincePrune * 4 < this.liveChunks) return;
    const isLive = (ordinal: number) => this.chunks[ordinal] !== undefined;
    for (const list of this.postings) list.retain(isLive);
    for (const [key, ordinals] of this.ordinalsByMetadata) {
      const live = ordinals.filter(isLive);
      if (live.length) this.ordinalsByMetadata.set(key, live);
      else this.ordinalsByMetadata.delete(key);
    }
    this.removedSincePrune = 0;
  }
}

/** A metadata entry as one unambiguous string, whatever characters key and value hold. */
function metadataKey([key, value]: [string, string]): string {
  return JSON.stringify([key, value]);
}

function appendTo(map: Map<string, number[]>, key: string, ordinal: number): void {
  const list = map.get(key);
  if (list) list.push(ordinal);
  else map.set(key, [ordinal]);
}
