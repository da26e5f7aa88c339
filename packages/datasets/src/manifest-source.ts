/**
 * Where a training job's manifest comes from (nats-obj://bucket/name, http(s)://, file:// or a path) and the pool
 * it trains on: what the trainer checks at submission and its node agents load before training.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { ManifestPool, SplitManifest } from "./manifest.js";
import { ManifestError, parseManifest } from "./manifest-file.js";
import { sha256Hex } from "./text.js";

/** Reads bytes behind a nats-obj:// URI (wired to the NATS Object Store by the caller); null: no such object. */
export type ObjectReader = (bucket: string, name: string) => Promise<Uint8Array | null>;

/** Splits nats-obj://bucket/name. */
export function parseObjectUri(uri: string): { bucket: string; name: string } | undefined {
  const match = /^nats-obj:\/\/([^/]+)\/(.+)$/.exec(uri);
  return match ? { bucket: match[1], name: decodeURIComponent(match[2]) } : undefined;
}

export async function readManifestBytes(uri: string, readObject?: ObjectReader): Promise<Uint8Array> {
  const object = parseObjectUri(uri);
  if (object) {
    if (!readObject) throw new ManifestError(`${uri}: no NATS object store is configured`);
    const data = await readObject(object.bucket, object.name);
    if (!data) throw new ManifestError(`${uri}: no such object`);
    return data;
  }
  if (/^https?:\/\//.test(uri)) {
    const response = await fetch(uri);
    if (response.status === 404) throw new ManifestError(`${uri}: not found (HTTP 404)`);
    if (!response.ok) throw new Error(`${uri}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  const path = uri.startsWith("file://") ? fileURLToPath(uri) : uri;
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new ManifestError(`${uri}: no such file`);
    throw error;
  }
}

export function findPool(manifest: SplitManifest, pool: string): ManifestPool {
  const found = manifest.pools[pool];
  if (!found) {
    throw new ManifestError(`pool "${pool}" is not in the manifest (it has ${Object.keys(manifest.pools).join(", ")})`);
  }
  return found;
}

/**
 * Loads the pool a job trains on, checking the manifest's sha256 when the job recorded one.
 * Throws ManifestError for anything the submitter got wrong.
 */
export async function loadTrainingPool(
  ref: { manifestUri: string; pool: string; manifestSha256: string },
  readObject?: ObjectReader,
): Promise<{ manifest: SplitManifest; pool: ManifestPool; manifestSha256: string }> {
  const bytes = await readManifestBytes(ref.manifestUri, readObject);
  const actual = sha256Hex(bytes);
  if (ref.manifestSha256 && ref.manifestSha256.toLowerCase() !== actual) {
    throw new ManifestError(`manifest sha256 is ${actual}, the job expects ${ref.manifestSha256}`);
  }
  const manifest = parseManifest(bytes);
  return { manifest, pool: findPool(manifest, ref.pool), manifestSha256: actual };
}
