/** The one interface every vector store sits behind (LanceDB embedded, Qdrant, or a team's own). */

export type SearchModeName = "lexical" | "dense" | "hybrid";

/** What a collection is, fixed at creation. */
export interface CollectionSpec {
  name: string;
  chunkSize: number;
  chunkOverlap: number;
  /** Embedding model of the dense vectors; empty when the collection is lexical only. */
  embeddingModel: string;
  /** Dimensions of the dense vectors; 0 when lexical only. */
  embeddingDimensions: number;
  createTime: Date;
}

export interface CollectionInfo extends CollectionSpec {
  backend: string;
  documentCount: number;
  chunkCount: number;
}

export interface CollectionStats {
  documentCount: number;
  chunkCount: number;
  totalCharacters: number;
  /** 0 when the backend cannot tell. */
  storageBytes: number;
}

/** A chunk as stored. Offsets in code points into the document text. */
export interface StoredChunk {
  id: string;
  documentId: string;
  index: number;
  text: string;
  startOffset: number;
  endOffset: number;
  title: string;
  metadata: Record<string, string>;
  /** Dense vector, present exactly when the collection has embeddings. */
  vector?: number[];
}

/** All chunks of one document: the unit that is written (or replaced) atomically. */
export interface DocumentChunks {
  documentId: string;
  chunks: StoredChunk[];
}

export interface SearchQuery {
  text: string;
  topK: number;
  /** Exact matches on chunk metadata; all must hold. */
  filter: Record<string, string>;
  mode: SearchModeName;
  /** Query embedding, required for dense and hybrid. */
  vector?: number[];
}

export interface ScoredChunk {
  chunk: StoredChunk;
  score: number;
}

export type CreateOutcome =
  | { created: true; collection: CollectionSpec }
  | { created: false; collection: CollectionSpec };

export interface VectorStoreBackend {
  /** Short name reported in Collection.backend, e.g. "lancedb". */
  readonly kind: string;
  /** Creates the collection, or returns the existing one unchanged (the caller compares specs). */
  createCollection(spec: CollectionSpec): Promise<CreateOutcome>;
  /** false when there was nothing to drop. */
  dropCollection(name: string): Promise<boolean>;
  /** The collection's fixed spec, without counting anything (cheap: asked on every search). */
  getSpec(name: string): Promise<CollectionSpec | undefined>;
  /** Spec plus counts (may scan the collection). */
  describeCollection(name: string): Promise<CollectionInfo | undefined>;
  listCollections(): Promise<CollectionInfo[]>;
  /**
   * Writes the documents' chunks in one commit, replacing every earlier chunk of those documents (including
   * chunks beyond the new count). Either all the documents are written or none is.
   */
  upsertDocuments(collection: string, documents: DocumentChunks[]): Promise<void>;
  /** Removes the documents' chunks; returns the number of chunks removed. */
  deleteDocuments(collection: string, documentIds: string[]): Promise<number>;
  search(collection: string, query: SearchQuery): Promise<ScoredChunk[]>;
  stats(collection: string): Promise<CollectionStats | undefined>;
  /** Rejects when the store cannot serve (for readiness checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Thrown by a backend when the collection named does not exist. */
export class CollectionNotFoundError extends Error {
  constructor(readonly collection: string) {
    super(`collection "${collection}" not found`);
    this.name = "CollectionNotFoundError";
  }
}

/** Thrown by a backend when it is asked for a search mode the collection cannot serve. */
export class UnsupportedSearchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsupportedSearchError";
  }
}

/** The query vector of a dense or hybrid search, refused where the collection or the query has none. */
export function denseQueryVector(collection: string, spec: CollectionSpec, query: SearchQuery): number[] {
  if (spec.embeddingDimensions === 0) {
    throw new UnsupportedSearchError(`collection "${collection}" has no dense vectors`);
  }
  if (!query.vector) throw new UnsupportedSearchError("dense search needs a query vector");
  return query.vector;
}

/** Thrown by a backend when its store cannot be reached (maps to UNAVAILABLE). */
export class BackendUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BackendUnavailableError";
  }
}
