import type { WordVectors } from "./word-vectors.js";

/**
 * Smooth inverse frequency sentence embeddings (Arora, Liang, Ma 2017, "A simple but tough-to-beat baseline for
 * sentence embeddings"): the average of a text's word vectors, each weighted a / (a + p(w)), with the common
 * component removed, L2-normalised.
 */
export interface SifOptions {
  /** The same tokenisation as lexical search, so both modes see the same terms. */
  tokenize: (text: string) => string[];
  /** SIF's smoothing weight. Default 1e-3, the paper's choice. */
  a?: number;
  /** Remove the common component (the paper's step 2). Default true. */
  removeCommonComponent?: boolean;
}

export interface SifEncoder {
  readonly dimensions: number;
  /** A unit vector; a text with no known word gets the common direction, see commonDirection. */
  encode(text: string): Float32Array;
}

export const SIF_A = 1e-3;

/**
 * Unigram probability of each row. The package carries no counts, only GloVe's vocabulary order (most frequent
 * word first, as GloVe writes it), so p is a Zipf estimate from the rank: p(r) = 1 / ((r + 1) · H_V), H_V the
 * V-th harmonic number, which gives "the" ~0.075 and a word of rank 1,000 ~7.5e-5, near English corpus counts.
 */
export function zipfProbabilities(size: number): Float64Array {
  let harmonic = 0;
  for (let r = 1; r <= size; r++) harmonic += 1 / r;
  const p = new Float64Array(size);
  for (let r = 0; r < size; r++) p[r] = 1 / ((r + 1) * harmonic);
  return p;
}

function normalise(vector: Float64Array): number {
  let sum = 0;
  for (let d = 0; d < vector.length; d++) sum += vector[d] * vector[d];
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let d = 0; d < vector.length; d++) vector[d] /= norm;
  return norm;
}

/**
 * The common component, estimated from the vocabulary instead of from a corpus (the paper takes the first singular
 * vector of the corpus' sentence embeddings, which a service embedding one text at a time does not have): the
 * expected weighted vector of a word drawn from the unigram distribution, Σ p(w) · weight(w) · v(w), over the words
 * the tokenizer can produce (stop words and punctuation never reach SIF here). With GloVe's shared offset this
 * mean dominates the sentence vectors' second moment, so it approximates that singular vector.
 */
function commonDirection(
  vectors: WordVectors,
  weights: Float32Array,
  p: Float64Array,
  tokenize: (text: string) => string[],
): Float64Array {
  const { dimensions, matrix, words } = vectors;
  const mean = new Float64Array(dimensions);
  for (let r = 0; r < words.length; r++) {
    const terms = tokenize(words[r]);
    if (terms.length !== 1 || terms[0] !== words[r]) continue;
    const scale = p[r] * weights[r];
    const offset = r * dimensions;
    for (let d = 0; d < dimensions; d++) mean[d] += scale * matrix[offset + d];
  }
  if (normalise(mean) === 0) mean[0] = 1;
  return mean;
}

export function createSifEncoder(vectors: WordVectors, options: SifOptions): SifEncoder {
  const { dimensions, matrix, rows, words } = vectors;
  const a = options.a ?? SIF_A;
  const p = zipfProbabilities(words.length);
  const weights = new Float32Array(words.length);
  for (let r = 0; r < words.length; r++) weights[r] = a / (a + p[r]);
  const common = commonDirection(vectors, weights, p, options.tokenize);
  const removeCommon = options.removeCommonComponent ?? true;

  return {
    dimensions,
    encode(text) {
      const sum = new Float64Array(dimensions);
      let known = 0;
      for (const term of options.tokenize(text)) {
        const row = rows.get(term);
        if (row === undefined) continue;
        known++;
        const weight = weights[row];
        const offset = row * dimensions;
        for (let d = 0; d < dimensions; d++) sum[d] += weight * matrix[offset + d];
      }
      // Averaging would divide by `known`; normalising makes that moot.
      if (known > 0 && removeCommon) {
        let projection = 0;
        for (let d = 0; d < dimensions; d++) projection += sum[d] * common[d];
        for (let d = 0; d < dimensions; d++) sum[d] -= projection * common[d];
      }
      // No known word (or nothing left once the common part is gone): cosine against a zero vector is NaN, so such a
      // text gets the common direction, which every other embedding is orthogonal to (cosine 0) once it is removed.
      if (known === 0 || normalise(sum) < 1e-6) return Float32Array.from(common);
      return Float32Array.from(sum);
    },
  };
}
