/** Turns texts into dense vectors. */
export interface Embedder {
  /** Model name, recorded on the collections it embeds. */
  readonly model: string;
  /** Vector length (asked of the model once, then remembered). */
  dimensions(): Promise<number>;
  /** One vector per text, in order. */
  embed(texts: string[]): Promise<number[][]>;
}

/** The embedding endpoint failed or answered something unusable. */
export class EmbeddingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EmbeddingError";
  }
}
