import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRandom } from "@ragtune/runtime";
import type { StoredChunk } from "../backend/vector-store-backend.js";
import { Bm25Index } from "./bm25-index.js";
import { compareRanked } from "./ranking-order.js";
import { distinctTerms, tokenize } from "./tokenize.js";

const K1 = 0.9;
const B = 0.4;

/** The reference: BM25 computed chunk by chunk from the definition, no index. */
function bruteForceBm25(chunks: StoredChunk[], query: string, filter: Record<string, string> = {}) {
  const tokenized = chunks.map((chunk) => tokenize(chunk.text));
  const n = chunks.length;
  const averageLength = tokenized.reduce((sum, terms) => sum + terms.length, 0) / n || 1;
  const terms = distinctTerms(query);
  const df = new Map(terms.map((term) => [term, tokenized.filter((chunkTerms) => chunkTerms.includes(term)).length]));
  const scored: { id: string; score: number }[] = [];
  chunks.forEach((chunk, i) => {
    if (!Object.entries(filter).every(([k, v]) => chunk.metadata[k] === v)) return;
    let score = 0;
    let matched = false;
    for (const term of terms) {
      const tf = tokenized[i]!.filter((t) => t === term).length;
      if (tf === 0) continue;
      matched = true;
      const idf = Math.log(1 + (n - df.get(term)! + 0.5) / (df.get(term)! + 0.5));
      score += (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * tokenized[i]!.length) / averageLength));
    }
    if (matched) scored.push({ id: chunk.id, score });
  });
  return scored.sort(compareRanked);
}

function randomCorpus(random: () => number, chunkCount: number, vocabulary: string[]): StoredChunk[] {
  // Zipf-like draws, so some terms are in most chunks and many in few.
  const word = () => vocabulary[Math.floor(vocabulary.length * random() ** 2.5)]!;
  return Array.from({ length: chunkCount }, (_, i) => {
    const length = 1 + Math.floor(random() * 40);
    const text = Array.from({ length }, word).join(random() < 0.5 ? " " : ", ");
    const documentId = `doc-${Math.floor(i / 3)}`;
    return {
      id: `chunk-${String(i).padStart(5, "0")}`,
      documentId,
      index: i % 3,
      text,
      startOffset: 0,
      endOffset: text.length,
      title: "",
      metadata: { group: `g${i % 4}` },
    };
  });
}

function indexOf(chunks: StoredChunk[]): Bm25Index {
  const index = new Bm25Index({ k1: K1, b: B });
  const byDocument = new Map<string, StoredChunk[]>();
  for (const chunk of chunks) byDocument.set(chunk.documentId, [...(byDocument.get(chunk.documentId) ?? []), chunk]);
  for (const [documentId, documentChunks] of byDocument) index.upsertDocument(documentId, documentChunks);
  return index;
}

/** Same top-k as the reference, in order; where scores tie to 1e-9 the order inside the tie is not compared. */
function assertSameRanking(actual: { id: string; score: number }[], expected: { id: string; score: number }[]) {
  assert.equal(actual.length, expected.length, "result count");
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]!.score - expected[i]!.score) < 1e-9, `score at rank ${i + 1}`);
  }
  const exact = (list: typeof actual) =>
    list.filter((hit) => !list.some((other) => other !== hit && Math.abs(other.score - hit.score) < 1e-9));
  assert.deepEqual(
    exact(actual).map((hit) => hit.id),
    exact(expected).map((hit) => hit.id),
  );
}

describe("Bm25Index", () => {
  const vocabulary = Array.from({ length: 300 }, (_, i) => `w${i.toString(36)}`);

  it("ranks like brute-force BM25 on random corpora of 1 to 5,000 chunks, best first", () => {
    const random = seededRandom(7);
    for (const chunkCount of [1, 2, 7, 60, 400, 5000]) {
      const chunks = randomCorpus(random, chunkCount, vocabulary);
      const index = indexOf(chunks);
      const queries = chunkCount === 5000 ? 5 : 20;
      for (let q = 0; q < queries; q++) {
        const query = Array.from(
          { length: 1 + Math.floor(random() * 6) },
          () => vocabulary[Math.floor(random() * vocabulary.length)],
        ).join(" ");
        const topK = 1 + Math.floor(random() * 12);
        const expected = bruteForceBm25(chunks, query).slice(0, topK);
        const actual = index.search(query, topK).map((hit) => ({ id: hit.chunk.id, score: hit.score }));
        assertSameRanking(actual, expected);
        for (let i = 1; i < actual.length; i++) assert.ok(compareRanked(actual[i - 1]!, actual[i]!) < 0, "sorted");
      }
    }
  });

  it("stays exact through replaced and removed documents, and filters on metadata", () => {
    const random = seededRandom(11);
    let chunks = randomCorpus(random, 3000, vocabulary);
    const index = indexOf(chunks);
    // Replace a third of the documents with new text, remove another third.
    const replacement = randomCorpus(random, 3000, vocabulary);
    const documents = [...new Set(chunks.map((c) => c.documentId))];
    for (const [n, documentId] of documents.entries()) {
      if (n % 3 === 0) {
        const fresh = replacement.filter((c) => c.documentId === documentId).slice(0, 1 + (n % 2));
        index.upsertDocument(documentId, fresh);
        chunks = chunks.filter((c) => c.documentId !== documentId).concat(fresh);
      } else if (n % 3 === 1) {
        index.removeDocument(documentId);
        chunks = chunks.filter((c) => c.documentId !== documentId);
      }
    }
    assert.equal(index.size, chunks.length);
    for (let q = 0; q < 10; q++) {
      const query = `${vocabulary[q * 7]} ${vocabulary[q * 13 + 1]} ${vocabulary[q]}`;
      assertSameRanking(
        index.search(query, 10).map((hit) => ({ id: hit.chunk.id, score: hit.score })),
        bruteForceBm25(chunks, query).slice(0, 10),
      );
      const filter = { group: `g${q % 4}` };
      const filtered = index.search(query, 10, filter);
      assert.ok(filtered.every((hit) => hit.chunk.metadata.group === filter.group));
      assertSameRanking(
        filtered.map((hit) => ({ id: hit.chunk.id, score: hit.score })),
        bruteForceBm25(chunks, query, filter).slice(0, 10),
      );
    }
  });

  it("puts the chunk that answers first, and returns nothing for stop words, punctuation or unknown terms", () => {
    const index = new Bm25Index();
    const chunk = (id: string, text: string): StoredChunk => ({
      id,
      documentId: id,
      index: 0,
      text,
      startOffset: 0,
      endOffset: text.length,
      title: "",
      metadata: {},
    });
    index.upsertDocument("fr", [chunk("fr", "Paris is the capital of France and its largest city.")]);
    index.upsertDocument("de", [chunk("de", "Berlin is the capital of Germany.")]);
    index.upsertDocument("jp", [chunk("jp", "Tokyo is in Japan, and it is very large.")]);
    const hits = index.search("capital of Germany", 2);
    assert.deepEqual(
      hits.map((hit) => hit.chunk.id),
      ["de", "fr"],
    );
    assert.ok(hits[0]!.score > hits[1]!.score);
    assert.deepEqual(index.search("the of and, is?!", 5), []);
    assert.deepEqual(index.search("zanzibar", 5), []);
    assert.deepEqual(index.search("capital", 5, { missing: "key" }), []);
  });
});
