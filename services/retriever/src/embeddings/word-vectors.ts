/** Word vectors held compactly: one Float32Array for all rows, rows in the vocabulary's frequency order. */
export interface WordVectors {
  readonly dimensions: number;
  /** Words by row; row 0 is the most frequent word of the training corpus. */
  readonly words: readonly string[];
  /** Row of each word. */
  readonly rows: ReadonlyMap<string, number>;
  /** words.length × dimensions values, row-major. */
  readonly matrix: Float32Array;
}

/** The vectors file is not in the layout the reader knows. */
export class WordVectorsFormatError extends Error {
  override name = "WordVectorsFormatError";
}

/** Indexes the rows of a vocabulary. */
export function wordVectors(dimensions: number, words: readonly string[], matrix: Float32Array): WordVectors {
  const rows = new Map<string, number>();
  words.forEach((word, row) => rows.set(word, row));
  return { dimensions, words, rows, matrix };
}
