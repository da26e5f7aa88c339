/**
 * Where a training job's manifest comes from and the pool it trains on: what the trainer checks at submission and
 * its node agents load before training. A manifest is a nats-obj://bucket/name object or a file under an
 * allow-listed root; nothing else is read (no http(s)://: a submitter must not make the trainer fetch a URL), and
 * every read is bounded in bytes and time. Messages name the URI and the rule, never the content.
 */
import { fileURLToPath } from "node:url";
import { FileAccessError, readBoundedFile, resolveUnderRoots, withDeadline } from "./bounded-read.js";
import type { ManifestPool, SplitManifest } from "./manifest.js";
import { ManifestError, parseManifest } from "./manifest-file.js";
import { sha256Hex } from "./text.js";

// The gateway checks dataset paths with the same rules.
export { FileAccessError, readBoundedFile, resolveUnderRoots } from "./bounded-read.js";

/**
 * Reads bytes behind a nats-obj:// URI (wired to the NATS Object Store by the caller); null: no such object.
 * An object larger than maxBytes must be refused without reading it (ManifestAccessError).
 */
export type ObjectReader = (bucket: string, name: string, maxBytes: number) => Promise<Uint8Array | null>;

/** A manifest URI this reader may not read (scheme, root, file type, size, deadline). */
export class ManifestAccessError extends ManifestError {
  override name = "ManifestAccessError";
}

export const DEFAULT_MANIFEST_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MANIFEST_TIMEOUT_MS = 30_000;

/** What a manifest may be read from. */
export interface ManifestAccess {
  readObject?: ObjectReader;
  /**
   * Folders whose files may be read as manifests. An empty list: the object store only (the trainer's default).
   * "any": any regular file, for a node agent that runs only jobs its trainer admitted under the trainer's roots.
   */
  roots: readonly string[] | "any";
  maxBytes?: number;
  timeoutMs?: number;
}

/** Splits nats-obj://bucket/name. */
export function parseObjectUri(uri: string): { bucket: string; name: string } | undefined {
  const match = /^nats-obj:\/\/([^/]+)\/(.+)$/.exec(uri);
  return match ? { bucket: match[1], name: decodeURIComponent(match[2]) } : undefined;
}

/** The local path a file manifest URI names (a path or file://); undefined for any other scheme. */
function localPath(uri: string): string | undefined {
  if (uri.startsWith("file://")) {
    try {
      return fileURLToPath(uri);
    } catch {
      return undefined;
    }
  }
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri) ? undefined : uri;
}

export async function readManifestBytes(uri: string, access: ManifestAccess): Promise<Uint8Array> {
  const maxBytes = access.maxBytes ?? DEFAULT_MANIFEST_MAX_BYTES;
  const timeoutMs = access.timeoutMs ?? DEFAULT_MANIFEST_TIMEOUT_MS;
  const object = parseObjectUri(uri);
  if (object) {
    if (!access.readObject) throw new ManifestError(`${uri}: no NATS object store is configured`);
    const data = await withDeadline(access.readObject(object.bucket, object.name, maxBytes), timeoutMs, uri);
    if (!data) throw new ManifestError(`${uri}: no such object`);
    if (data.length > maxBytes)
      throw new ManifestAccessError(`${uri}: larger than the manifest limit of ${maxBytes} bytes`);
    return data;
  }
  const path = localPath(uri);
  if (path === undefined) {
    throw new ManifestAccessError(`${uri}: manifests are read from nats-obj:// objects or allow-listed folders only`);
  }
  const allowed = access.roots === "any" ? path : await resolveUnderRoots(path, access.roots);
  if (!allowed) {
    const roots = access.roots as readonly string[];
    throw new ManifestAccessError(
      roots.length
        ? `${uri}: not under an allow-listed manifest folder (${roots.join(", ")})`
        : `${uri}: no manifest folder is allow-listed here; publish the manifest to the NATS object store (nats-obj://)`,
    );
  }
  try {
    return await readBoundedFile(allowed, uri, { maxBytes, timeoutMs, what: "manifest" });
  } catch (error) {
    if (error instanceof FileAccessError) throw new ManifestAccessError(error.message);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ManifestError(`${uri}: no such file`);
    if (code === "EACCES" || code === "EISDIR") throw new ManifestAccessError(`${uri}: not readable (${code})`);
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
  access: ManifestAccess,
): Promise<{ manifest: SplitManifest; pool: ManifestPool; manifestSha256: string }> {
  const bytes = await readManifestBytes(ref.manifestUri, access);
  const actual = sha256Hex(bytes);
  if (ref.manifestSha256 && ref.manifestSha256.toLowerCase() !== actual) {
    throw new ManifestError(`manifest sha256 is ${actual}, the job expects ${ref.manifestSha256}`);
  }
  const manifest = parseManifest(bytes);
  return { manifest, pool: findPool(manifest, ref.pool), manifestSha256: actual };
}
