import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chunkId } from "./chunk-id.js";
import { chunkDocument } from "./chunk-document.js";

const doc = (text: string, documentId = "d1") => ({ collection: "c", documentId, text });

function wordsOf(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

function assertOffsetsExact(text: string, chunks: ReturnType<typeof chunkDocument>): void {
  const codePoints = Array.from(text);
  for (const chunk of chunks) {
    assert.equal(codePoints.slice(chunk.startOffset, chunk.endOffset).join(""), chunk.text);
  }
}

const lorem =
  "Retrieval augmented generation combines a retriever with a generator. Fine-tuning the generator may help " +
  "or hurt. We measure accuracy and completeness on BioASQ, Natural Questions and Qasper with chunks of text. ";

describe("chunkDocument", () => {
  it("keeps a short document whole, without surrounding whitespace", () => {
    const chunks = chunkDocument(doc("  hello world \n"));
    assert.equal(chunks.length, 1);
    assert.deepEqual(
      { text: chunks[0].text, start: chunks[0].startOffset, end: chunks[0].endOffset, index: chunks[0].index },
      { text: "hello world", start: 2, end: 13, index: 0 },
    );
  });

  it("returns no chunks for an empty or blank document", () => {
    assert.deepEqual(chunkDocument(doc("")), []);
    assert.deepEqual(chunkDocument(doc(" \n\t ")), []);
  });

  it("uses 1500-character chunks with no overlap by default and never splits a word", () => {
    const text = lorem.repeat(40);
    const chunks = chunkDocument(doc(text));
    assert.ok(chunks.length > 1);
    for (const chunk of chunks) assert.ok(chunk.text.length <= 1500, `chunk of ${chunk.text.length}`);
    // Every word of the text appears whole, in order, exactly once across the chunks.
    assert.deepEqual(
      chunks.flatMap((c) => wordsOf(c.text)),
      wordsOf(text),
    );
    for (let i = 1; i < chunks.length; i++) assert.ok(chunks[i].startOffset >= chunks[i - 1].endOffset);
    assertOffsetsExact(text, chunks);
  });

  it("fills chunks up to the last whole word that fits", () => {
    const chunks = chunkDocument(doc("aaaa bbbb cccc dddd"), { chunkSize: 10, chunkOverlap: 0 });
    assert.deepEqual(
      chunks.map((c) => c.text),
      ["aaaa bbbb", "cccc dddd"],
    );
  });

  it("cuts a word longer than a chunk hard, the only case where a word is split", () => {
    const chunks = chunkDocument(doc("abcdefghijkl xy"), { chunkSize: 5, chunkOverlap: 0 });
    assert.deepEqual(
      chunks.map((c) => c.text),
      ["abcde", "fghij", "kl xy"],
    );
  });

  it("overlaps consecutive chunks by whole words", () => {
    const text = lorem.repeat(5);
    const chunks = chunkDocument(doc(text), { chunkSize: 200, chunkOverlap: 50 });
    assertOffsetsExact(text, chunks);
    for (let i = 1; i < chunks.length; i++) {
      const shared = chunks[i - 1].endOffset - chunks[i].startOffset;
      assert.ok(shared > 0 && shared <= 50, `overlap ${shared}`);
      // The overlap starts at a word start.
      assert.match(Array.from(text)[chunks[i].startOffset - 1], /\s/);
    }
    assert.equal(chunks.at(-1)!.endOffset, Array.from(text.trimEnd()).length);
  });

  it("counts code points, not UTF-16 units, and never splits a surrogate pair", () => {
    const text = "😀😀😀 😀😀 é😀 ok";
    const chunks = chunkDocument(doc(text), { chunkSize: 6, chunkOverlap: 0 });
    assertOffsetsExact(text, chunks);
    assert.deepEqual(
      chunks.map((c) => c.text),
      ["😀😀😀 😀😀", "é😀 ok"],
    );
  });

  it("gives stable ids derived from collection, document and index", () => {
    const a = chunkDocument(doc(lorem.repeat(3)), { chunkSize: 100, chunkOverlap: 0 });
    const b = chunkDocument(doc(lorem.repeat(3)), { chunkSize: 100, chunkOverlap: 0 });
    assert.deepEqual(
      a.map((c) => c.id),
      b.map((c) => c.id),
    );
    assert.equal(a[2].id, chunkId("c", "d1", 2));
    assert.notEqual(chunkId("c", "d1", 0), chunkId("c", "d2", 0));
    assert.notEqual(chunkId("c", "d1", 0), chunkId("c2", "d1", 0));
    assert.match(a[0].id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(new Set(a.map((c) => c.id)).size, a.length);
  });

  it("rejects impossible options", () => {
    assert.throws(() => chunkDocument(doc("x"), { chunkSize: 0, chunkOverlap: 0 }), RangeError);
    assert.throws(() => chunkDocument(doc("x"), { chunkSize: 10, chunkOverlap: 10 }), RangeError);
  });
});
