import { tokenize } from "../lexical/tokenize.js";
import type { Embedder } from "./embedder.js";
import { type GloveVectorsOptions, loadGloveVectors, WINK_EMBEDDINGS } from "./glove-vectors.js";
import { createSifEncoder, type SifEncoder } from "./sif.js";

export { ensureGloveVectors, type GloveVectorsOptions } from "./glove-vectors.js";

/**
 * Recorded on every collection it embeds; a collection embedded otherwise cannot be searched with it. Bump the
 * suffix whenever the weighting or the tokenisation changes what a text's vector is.
 */
export const GLOVE_MODEL = `${WINK_EMBEDDINGS.name}@${WINK_EMBEDDINGS.version}+sif-v1`;

export interface GloveEmbedder extends Embedder {
  /** Fetches (first time) and loads the vectors; embed() and dimensions() wait for it. Rejects like they would. */
  ready(): Promise<void>;
}

/**
 * Dense vectors without an embedding server: GloVe word vectors (fetched on first use into `cacheDir`) averaged
 * with SIF weights over the lexical tokenisation. A failed load (e.g. offline) is not remembered: the next call
 * tries again.
 */
export function createGloveEmbedder(options: GloveVectorsOptions): GloveEmbedder {
  let loading: Promise<SifEncoder> | undefined;
  const encoder = () => {
    loading ??= loadGloveVectors(options).then(
      (vectors) => createSifEncoder(vectors, { tokenize }),
      (error) => {
        loading = undefined;
        throw error;
      },
    );
    return loading;
  };
  return {
    model: GLOVE_MODEL,
    async ready() {
      await encoder();
    },
    async dimensions() {
      return (await encoder()).dimensions;
    },
    async embed(texts) {
      const sif = await encoder();
      return texts.map((text) => Array.from(sif.encode(text)));
    },
  };
}
