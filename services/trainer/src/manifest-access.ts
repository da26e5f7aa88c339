/**
 * What the trainer may read as a job's split manifest: objects of the NATS Object Store, and files only under the
 * folders TRAINER_MANIFEST_ROOTS allow-lists (none by default). A submitter naming /etc/passwd or an http:// URL is
 * refused (INVALID_ARGUMENT spec.training_data.manifest_uri) without the trainer opening or fetching it.
 */
import {
  DEFAULT_MANIFEST_MAX_BYTES,
  DEFAULT_MANIFEST_TIMEOUT_MS,
  findPool,
  type ManifestAccess,
  ManifestAccessError,
  type ObjectReader,
  parseManifest,
  readManifestBytes,
} from "@ragtune/datasets";
import type { TrainingDataRef } from "@ragtune/contracts/common";
import { folderListSetting, type NatsHandle, numberSetting } from "@ragtune/runtime";

export const manifestSettings = {
  manifestRoots: folderListSetting({
    env: "TRAINER_MANIFEST_ROOTS",
    description:
      "folders (absolute, comma separated) whose files jobs may name as manifests; empty: nats-obj:// objects only",
  }),
  manifestMaxBytes: numberSetting({
    env: "TRAINER_MANIFEST_MAX_BYTES",
    description: "largest split manifest the trainer reads, bytes",
    default: DEFAULT_MANIFEST_MAX_BYTES,
    min: 1024,
    integer: true,
  }),
  manifestTimeoutMs: numberSetting({
    env: "TRAINER_MANIFEST_TIMEOUT_MS",
    description: "longest a manifest read may take, ms",
    default: DEFAULT_MANIFEST_TIMEOUT_MS,
    min: 100,
    integer: true,
  }),
};

/** Reads nats-obj://bucket/name through the Object Store, refusing an object over maxBytes before reading it. */
export function createObjectReader(nats: NatsHandle): ObjectReader {
  return async (bucket, name, maxBytes) => {
    const store = await nats.objm.open(bucket);
    const info = await store.info(name);
    if (!info || info.deleted) return null;
    if (info.size > maxBytes) {
      throw new ManifestAccessError(`nats-obj://${bucket}/${name}: ${info.size} bytes, over the limit of ${maxBytes}`);
    }
    return store.getBlob(name);
  };
}

/** The manifest limits of a trainer; roots default to none (the object store only). */
export type ManifestLimits = Partial<Omit<ManifestAccess, "readObject" | "roots">> & { roots?: readonly string[] };

/** The size of the pool a job names, read within the trainer's manifest access rules. */
export function createPoolSizeReader(nats: NatsHandle, limits: ManifestLimits = {}) {
  const access: ManifestAccess = { ...limits, roots: limits.roots ?? [], readObject: createObjectReader(nats) };
  return async (ref: TrainingDataRef): Promise<number> => {
    const bytes = await readManifestBytes(ref.manifestUri, access);
    return findPool(parseManifest(bytes), ref.pool).items.length;
  };
}
