/**
 * Every rule on the retriever's requests, in one place. Each check throws INVALID_ARGUMENT naming the field.
 */
import type { ChunkingConfig, CreateCollectionRequest, Document, SearchRequest } from "@ragtune/contracts/retriever";
import { SearchMode } from "@ragtune/contracts/retriever";
import { SearchModeSchema } from "@ragtune/contracts/retriever";
import { invalidArgument, requireKnownEnum, requireNonEmpty, requirePattern, requireRange } from "@ragtune/runtime";
import { DEFAULT_CHUNKING } from "../chunking/chunk-document.js";
import type { SearchModeName } from "../backend/vector-store-backend.js";

export const LIMITS = {
  collectionName: /^[A-Za-z0-9_-]{1,64}$/,
  chunkSize: { min: 50, max: 100_000 },
  documentId: { min: 1, max: 256 },
  documentCharacters: 10_000_000,
  metadataKey: /^[A-Za-z0-9_-]{1,128}$/,
  metadataValue: { max: 4096 },
  metadataEntries: 64,
  queryCharacters: 10_000,
  topK: { min: 1, max: 1000, default: 5 },
} as const;

export function validateCollectionName(field: string, name: string): string {
  requireNonEmpty(field, name);
  requirePattern(field, name, LIMITS.collectionName, "1..64 characters of [A-Za-z0-9_-]");
  return name;
}

export interface ValidatedCreate {
  name: string;
  chunkSize: number;
  chunkOverlap: number;
  dense: boolean;
}

export function validateChunking(field: string, chunking: ChunkingConfig | undefined) {
  const chunkSize = chunking?.chunkSize || DEFAULT_CHUNKING.chunkSize;
  const chunkOverlap = chunking?.chunkOverlap ?? DEFAULT_CHUNKING.chunkOverlap;
  requireRange(`${field}.chunk_size`, chunkSize, LIMITS.chunkSize.min, LIMITS.chunkSize.max);
  if (chunkOverlap >= chunkSize) {
    throw invalidArgument(
      `${field}.chunk_overlap`,
      `must be smaller than chunk_size (${chunkSize}), got ${chunkOverlap}`,
    );
  }
  return { chunkSize, chunkOverlap };
}

export function validateCreateCollection(request: CreateCollectionRequest): ValidatedCreate {
  return {
    name: validateCollectionName("name", request.name),
    ...validateChunking("chunking", request.chunking),
    dense: request.dense,
  };
}

function validateMetadata(field: string, metadata: Record<string, string>): void {
  const entries = Object.entries(metadata);
  if (entries.length > LIMITS.metadataEntries) {
    throw invalidArgument(field, `must have at most ${LIMITS.metadataEntries} entries, got ${entries.length}`);
  }
  for (const [key, value] of entries) {
    // Dots would read as nesting in Qdrant's payload paths, so keys are plain names.
    if (!LIMITS.metadataKey.test(key)) {
      throw invalidArgument(field, `key "${key.slice(0, 40)}" must be 1..128 characters of [A-Za-z0-9_-]`);
    }
    if (value.length > LIMITS.metadataValue.max) {
      throw invalidArgument(`${field}["${key}"]`, `must be at most ${LIMITS.metadataValue.max} characters`);
    }
  }
}

/** Code points, counted only when the UTF-16 length leaves it in doubt (a 10M-character scan is not free). */
function exceedsCodePoints(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let count = 0;
  for (const _ of text) if (++count > max) return true;
  return false;
}

/** `position` is the stream message number (from 1, the header being message 1), for the error text. */
export function validateDocument(document: Document, position: number): void {
  const where = ` (stream message ${position})`;
  if (document.id.length < LIMITS.documentId.min || document.id.length > LIMITS.documentId.max) {
    throw invalidArgument(
      "document.id",
      `must be ${LIMITS.documentId.min}..${LIMITS.documentId.max} characters${where}`,
    );
  }
  if (exceedsCodePoints(document.text, LIMITS.documentCharacters)) {
    throw invalidArgument(
      "document.text",
      `must be at most ${LIMITS.documentCharacters} characters, document "${document.id}" is larger${where}`,
    );
  }
  validateMetadata("document.metadata", document.metadata);
}

export interface ValidatedSearch {
  collection: string;
  query: string;
  topK: number;
  filter: Record<string, string>;
  /** undefined: the collection's default. */
  mode: SearchModeName | undefined;
}

const modeNames: Record<number, SearchModeName | undefined> = {
  [SearchMode.UNSPECIFIED]: undefined,
  [SearchMode.LEXICAL]: "lexical",
  [SearchMode.DENSE]: "dense",
  [SearchMode.HYBRID]: "hybrid",
};

export function validateSearch(request: SearchRequest): ValidatedSearch {
  const collection = validateCollectionName("collection", request.collection);
  requireNonEmpty("query", request.query);
  if (request.query.length > LIMITS.queryCharacters) {
    throw invalidArgument("query", `must be at most ${LIMITS.queryCharacters} characters`);
  }
  const topK = request.topK === 0 ? LIMITS.topK.default : request.topK;
  requireRange("top_k", topK, LIMITS.topK.min, LIMITS.topK.max);
  validateMetadata("filter", request.filter);
  requireKnownEnum("mode", request.mode, SearchModeSchema, { allowUnspecified: true });
  return { collection, query: request.query, topK, filter: { ...request.filter }, mode: modeNames[request.mode] };
}

export const SEARCH_MODE_OF: Record<SearchModeName, SearchMode> = {
  lexical: SearchMode.LEXICAL,
  dense: SearchMode.DENSE,
  hybrid: SearchMode.HYBRID,
};
