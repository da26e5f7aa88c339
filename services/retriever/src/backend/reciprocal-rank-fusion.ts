import { compareRanked } from "../lexical/ranking-order.js";
import type { ScoredChunk } from "./vector-store-backend.js";

/** The usual RRF constant (Cormack et al., 2009); it damps the weight of the very first ranks. */
export const RRF_K = 60;

/**
 * Fuses ranked lists by weighted reciprocal rank: score = Σ weight_i / (k + rank_i), rank from 1. Best first, ties
 * by chunk id, at most topK. A list's weight below 1 lets a weaker ranker (word-vector dense search, say) reorder
 * near-ties of a stronger one without overruling it.
 */
export function fuseByReciprocalRank(
  lists: ScoredChunk[][],
  topK: number,
  options: { k?: number; weights?: number[] } = {},
): ScoredChunk[] {
  const k = options.k ?? RRF_K;
  const fused = new Map<string, ScoredChunk>();
  lists.forEach((list, l) => {
    const weight = options.weights?.[l] ?? 1;
    list.forEach((hit, position) => {
      const contribution = weight / (k + position + 1);
      const seen = fused.get(hit.chunk.id);
      if (seen) seen.score += contribution;
      else fused.set(hit.chunk.id, { chunk: hit.chunk, score: contribution });
    });
  });
  return [...fused.values()]
    .sort((a, b) => compareRanked({ score: a.score, id: a.chunk.id }, { score: b.score, id: b.chunk.id }))
    .slice(0, topK);
}
