import type { CollectionInfo, VectorStoreBackend } from "./vector-store-backend.js";

/** Spec plus counts from stats(): describeCollection for any backend. */
export async function describeFromStats(
  backend: VectorStoreBackend,
  name: string,
): Promise<CollectionInfo | undefined> {
  const spec = await backend.getSpec(name);
  if (!spec) return undefined;
  const stats = await backend.stats(name);
  // Dropped between the two reads.
  if (!stats) return undefined;
  return { ...spec, backend: backend.kind, documentCount: stats.documentCount, chunkCount: stats.chunkCount };
}

/** The named collections described in name order, leaving out what is not a ragtune collection. */
export async function describeAll(backend: VectorStoreBackend, names: readonly string[]): Promise<CollectionInfo[]> {
  const infos = await Promise.all([...names].sort().map((name) => backend.describeCollection(name)));
  return infos.filter((info): info is CollectionInfo => info !== undefined);
}
