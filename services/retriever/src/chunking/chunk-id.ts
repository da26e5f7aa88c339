import { createHash } from "node:crypto";

/**
 * Stable chunk id: a UUID-shaped digest of collection, document id and chunk index, so that re-ingesting a
 * document overwrites the same ids (idempotent re-indexing). UUID-shaped because Qdrant accepts only UUIDs or
 * integers as point ids.
 */
export function chunkId(collection: string, documentId: string, index: number): string {
  const hex = createHash("sha256").update(`${collection}\u0000${documentId}\u0000${index}`).digest("hex");
  // Version 8 (custom) and RFC 4122 variant bits, so that strict UUID parsers accept it.
  const version = `8${hex.slice(13, 16)}`;
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16) + hex.slice(17, 20);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${version}-${variant}-${hex.slice(20, 32)}`;
}
