import { Field, FixedSizeList, Float32, Int32, List, Schema, Utf8 } from "apache-arrow";
import { type ChunkFields, chunkFromFields, chunkToFields } from "../chunk-fields.js";
import type { CollectionSpec, StoredChunk } from "../vector-store-backend.js";

/** Schema metadata key under which the collection spec is stored, so spec and data commit together. */
export const SPEC_METADATA_KEY = "ragtune.collection";

/** One row per chunk. Metadata is kept twice: as JSON to return it, as pair strings to filter on it. */
export function chunkTableSchema(spec: CollectionSpec): Schema {
  const fields: Field[] = [
    new Field("id", new Utf8(), false),
    new Field("document_id", new Utf8(), false),
    new Field("chunk_index", new Int32(), false),
    new Field("text", new Utf8(), false),
    new Field("start_offset", new Int32(), false),
    new Field("end_offset", new Int32(), false),
    new Field("char_count", new Int32(), false),
    new Field("title", new Utf8(), false),
    new Field("metadata_json", new Utf8(), false),
    new Field("metadata_pairs", new List(new Field("item", new Utf8(), true)), false),
  ];
  if (spec.embeddingDimensions > 0) {
    fields.push(
      new Field("vector", new FixedSizeList(spec.embeddingDimensions, new Field("item", new Float32(), true)), false),
    );
  }
  return new Schema(fields, new Map([[SPEC_METADATA_KEY, encodeSpec(spec)]]));
}

export function encodeSpec(spec: CollectionSpec): string {
  return JSON.stringify({ ...spec, createTime: spec.createTime.toISOString() });
}

export function decodeSpec(json: string): CollectionSpec {
  const raw = JSON.parse(json);
  return { ...raw, createTime: new Date(raw.createTime) };
}

/** A metadata entry as one string, unambiguous whatever characters key and value hold. */
export function metadataPair(key: string, value: string): string {
  return JSON.stringify([key, value]);
}

export function chunkToRow(chunk: StoredChunk, dense: boolean): Record<string, unknown> {
  const row: Record<string, unknown> = {
    id: chunk.id,
    ...chunkToFields(chunk),
    metadata_json: JSON.stringify(chunk.metadata),
    metadata_pairs: Object.entries(chunk.metadata).map(([k, v]) => metadataPair(k, v)),
  };
  if (dense) row.vector = chunk.vector;
  return row;
}

/** A row as a search returns it (RESULT_COLUMNS). */
type ResultRow = Omit<ChunkFields, "char_count"> & { id: string; metadata_json: string };

export function rowToChunk(row: ResultRow): StoredChunk {
  return chunkFromFields(row.id, row, JSON.parse(row.metadata_json));
}

/** SQL string literal (single quotes doubled). */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** WHERE clause for exact metadata matches, or undefined when there is no filter. */
export function metadataWhere(filter: Record<string, string>): string | undefined {
  const pairs = Object.entries(filter).map(([k, v]) => sqlString(metadataPair(k, v)));
  return pairs.length ? `array_has_all(metadata_pairs, [${pairs.join(", ")}])` : undefined;
}

export function documentIdsWhere(documentIds: string[]): string {
  return `document_id IN (${documentIds.map(sqlString).join(", ")})`;
}

/** Columns returned by a search: everything but the vector, which nobody reads back. */
export const RESULT_COLUMNS = [
  "id",
  "document_id",
  "chunk_index",
  "text",
  "start_offset",
  "end_offset",
  "title",
  "metadata_json",
];
