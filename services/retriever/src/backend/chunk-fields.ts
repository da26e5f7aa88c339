import type { StoredChunk } from "./vector-store-backend.js";

/** A chunk's fields under the names both stores keep them by (LanceDB columns, Qdrant payload keys). */
export interface ChunkFields {
  document_id: string;
  chunk_index: number;
  text: string;
  start_offset: number;
  end_offset: number;
  /** Stored so that stats can sum characters without reading the text. */
  char_count: number;
  title: string;
}

/** The fields of a chunk as written; id, metadata and vector each store keeps its own way. */
export function chunkToFields(chunk: StoredChunk): ChunkFields {
  return {
    document_id: chunk.documentId,
    chunk_index: chunk.index,
    text: chunk.text,
    start_offset: chunk.startOffset,
    end_offset: chunk.endOffset,
    char_count: chunk.endOffset - chunk.startOffset,
    title: chunk.title,
  };
}

/** The chunk back from its stored fields (a search does not read char_count back). */
export function chunkFromFields(
  id: string,
  fields: Omit<ChunkFields, "char_count">,
  metadata: Record<string, string>,
): StoredChunk {
  return {
    id,
    documentId: fields.document_id,
    index: fields.chunk_index,
    text: fields.text,
    startOffset: fields.start_offset,
    endOffset: fields.end_offset,
    title: fields.title,
    metadata,
  };
}
