import type { ScoredChunk } from "./vector-store-backend.js";

/** The usual RRF constant (Cormack et al., 2009); it damps the weight of the very first ranks. */
export const RRF_K = 60;

/** Fuses ranked lists by reciprocal rank: score = Σ 1 / (k + rank), rank from 1. Best first, at most topK. */
export function fuseByReciprocalRank(lists: ScoredChunk[][], topK: number, k = RRF_K): ScoredChunk[] {
  const fused = new Map<string, ScoredChunk>();
  for (const list of lists) {
    list.forEach((hit, position) => {
      const contribution = 1 / (k + position + 1);
      const seen = fused.get(hit.chunk.id);
      if (seen) seen.score += contribution;
      else fused.set(hit.chunk.id, { chunk: hit.chunk, score: contribution });
    });
  }
  return [...fused.values()].sort((a, b) => b.score - a.score || a.chunk.id.localeCompare(b.chunk.id)).slice(0, topK);
}
