/**
 * BM25 as sparse vectors for Qdrant: the client sends each term's saturated term frequency and the server applies
 * IDF (the sparse vector is created with `modifier: "idf"`), which together give BM25 scores. Terms are hashed to
 * 32-bit indices, so no vocabulary has to be shared between writers.
 */
import { tokenize } from "../../lexical/tokenize.js";

export interface SparseVector {
  indices: number[];
  values: number[];
}

export const BM25_K1 = 1.2;
export const BM25_B = 0.75;
/** Assumed mean document length in terms; a 1,500-character chunk holds about this many after stop words. */
export const BM25_AVERAGE_LENGTH = 256;

/** FNV-1a, 32 bits: a stable term → index map. */
export function termIndex(term: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < term.length; i++) hash = Math.imul(hash ^ term.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

function termCounts(terms: string[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const term of terms) {
    const index = termIndex(term);
    counts.set(index, (counts.get(index) ?? 0) + 1);
  }
  return counts;
}

/** A chunk's vector: BM25's saturated term frequency per term. */
export function encodeDocument(text: string): SparseVector {
  const terms = tokenize(text);
  const norm = BM25_K1 * (1 - BM25_B + (BM25_B * terms.length) / BM25_AVERAGE_LENGTH);
  const counts = termCounts(terms);
  const indices = [...counts.keys()].sort((a, b) => a - b);
  return { indices, values: indices.map((i) => (counts.get(i)! * (BM25_K1 + 1)) / (counts.get(i)! + norm)) };
}

/** A query's vector: 1 per distinct term (the server multiplies in IDF). */
export function encodeQuery(text: string): SparseVector {
  const indices = [...termCounts(tokenize(text)).keys()].sort((a, b) => a - b);
  return { indices, values: indices.map(() => 1) };
}
