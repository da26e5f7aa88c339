import type { Document } from "@ragtune/contracts/retriever";
import type { CollectionSpec, DocumentChunks } from "../backend/vector-store-backend.js";
import { chunkDocument } from "../chunking/chunk-document.js";
import type { Embedder } from "../embeddings/embedder.js";

export interface IngestLimits {
  /** Chunks held before a commit. Default 2,000. */
  maxBatchChunks: number;
  /** Characters held before a commit (bounds memory for big documents). Default 8,000,000. */
  maxBatchCharacters: number;
}

const DEFAULT_LIMITS: IngestLimits = { maxBatchChunks: 2000, maxBatchCharacters: 8_000_000 };

export interface IngestBatcherOptions {
  spec: CollectionSpec;
  /** Set when the collection has dense vectors. */
  embedder?: Embedder;
  /** Writes whole documents atomically. */
  commit: (documents: DocumentChunks[]) => Promise<void>;
  limits?: Partial<IngestLimits>;
}

/**
 * Chunks documents as they arrive and commits them in bounded batches, so a stream of any length is indexed in
 * constant memory. A document id seen twice before its batch is committed keeps only its last version.
 */
export function createIngestBatcher(options: IngestBatcherOptions) {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const { spec } = options;
  let pending = new Map<string, DocumentChunks>();
  let pendingChunks = 0;
  let pendingCharacters = 0;
  let committedDocuments = 0;
  let committedChunks = 0;
  let pendingDocumentMessages = 0;

  async function flush(): Promise<void> {
    if (pending.size === 0) return;
    const documents = [...pending.values()];
    if (options.embedder) {
      const chunks = documents.flatMap((d) => d.chunks);
      const vectors = await options.embedder.embed(chunks.map((c) => c.text));
      chunks.forEach((chunk, i) => {
        chunk.vector = vectors[i];
      });
    }
    await options.commit(documents);
    committedDocuments += pendingDocumentMessages;
    committedChunks += documents.reduce((n, d) => n + d.chunks.length, 0);
    pending = new Map();
    pendingChunks = 0;
    pendingCharacters = 0;
    pendingDocumentMessages = 0;
  }

  return {
    async add(document: Document): Promise<void> {
      const pieces = chunkDocument(
        { collection: spec.name, documentId: document.id, text: document.text },
        { chunkSize: spec.chunkSize, chunkOverlap: spec.chunkOverlap },
      );
      const replaced = pending.get(document.id);
      if (replaced) pendingChunks -= replaced.chunks.length;
      pending.set(document.id, {
        documentId: document.id,
        chunks: pieces.map((piece) => ({
          ...piece,
          documentId: document.id,
          title: document.title,
          metadata: { ...document.metadata },
        })),
      });
      pendingChunks += pieces.length;
      pendingCharacters += document.text.length;
      pendingDocumentMessages++;
      if (pendingChunks >= limits.maxBatchChunks || pendingCharacters >= limits.maxBatchCharacters) await flush();
    },
    flush,
    /** Documents and chunks committed so far. */
    counts() {
      return { documents: committedDocuments, chunks: committedChunks };
    },
  };
}
