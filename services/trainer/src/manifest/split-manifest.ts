/**
 * The split manifest written by the datasets code: the pools of QA pairs a job trains on, with content hashes
 * that travel with the adapter. Read by the trainer at submission (pool exists, size fits) and by agents before
 * training (checksum matches).
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

export interface ManifestContext {
  text: string;
  source_id?: string;
}

export interface ManifestItem {
  id: string;
  sha256?: string;
  question: string;
  answer: string;
  answers?: string[];
  evidence?: string[];
  contexts?: ManifestContext[];
}

export interface ManifestPool {
  sha256?: string;
  items: ManifestItem[];
}

export interface SplitManifest {
  version: number;
  dataset: string;
  seed?: number;
  pools: Record<string, ManifestPool>;
}

/** A manifest that cannot be used; a user error (never retried). */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

/** Reads bytes behind a nats-obj:// URI (wired to the NATS Object Store by the caller). */
export type ObjectReader = (bucket: string, name: string) => Promise<Uint8Array | null>;

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

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

export function parseSplitManifest(data: Uint8Array | string): SplitManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof data === "string" ? data : Buffer.from(data).toString("utf8"));
  } catch (error) {
    throw new ManifestError(`manifest is not JSON: ${(error as Error).message}`);
  }
  const manifest = parsed as Partial<SplitManifest>;
  if (typeof manifest !== "object" || manifest === null || typeof manifest.pools !== "object" || !manifest.pools) {
    throw new ManifestError("manifest has no pools object");
  }
  if (manifest.version !== 1) throw new ManifestError(`manifest version ${manifest.version} is not supported (1)`);
  for (const [name, pool] of Object.entries(manifest.pools)) {
    if (!Array.isArray(pool?.items)) throw new ManifestError(`pool "${name}" has no items array`);
    pool.items.forEach((item, i) => {
      if (typeof item?.question !== "string" || typeof item?.answer !== "string") {
        throw new ManifestError(`pool "${name}" item ${i} lacks a question or answer string`);
      }
    });
  }
  return manifest as SplitManifest;
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
  const manifest = parseSplitManifest(bytes);
  return { manifest, pool: findPool(manifest, ref.pool), manifestSha256: actual };
}
