/**
 * What the trainer may read as a job's split manifest: objects of the NATS Object Store, and files only under the
 * folders TRAINER_MANIFEST_ROOTS allow-lists (none by default). A submitter naming /etc/passwd or an http:// URL is
 * refused (INVALID_ARGUMENT spec.training_data.manifest_uri) without the trainer opening or fetching it.
 */
import {
  DEFAULT_MANIFEST_MAX_BYTES,
  DEFAULT_MANIFEST_TIMEOUT_MS,
  type ManifestAccess,
  ManifestAccessError,
  ManifestError,
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
  return createManifestPoolSizes({ ...limits, roots: limits.roots ?? [], readObject: createObjectReader(nats) });
}

/** Manifests whose pool sizes are kept (by URI and sha256): an experiment's grid names one per dataset. */
const POOL_SIZE_CACHE_ENTRIES = 32;

/**
 * Pool sizes from manifests read within `access`. An experiment submits its whole grid at once, every job naming
 * the same manifest (tens of MB: each pair carries its retrieved contexts): reading and parsing it once per job
 * held the trainer's event loop long enough for its NATS requests and the agents' heartbeats to time out. So
 * reads of one manifest at the same time share one read, and a manifest named with its sha256 (immutable
 * content) keeps its pool sizes for later jobs. A failed read is not kept.
 */
export function createManifestPoolSizes(access: ManifestAccess) {
  const sizes = new Map<string, Promise<Map<string, number>>>();
  const read = async (uri: string) => {
    const manifest = parseManifest(await readManifestBytes(uri, access));
    return new Map(Object.entries(manifest.pools).map(([name, pool]) => [name, pool.items.length]));
  };
  return async (ref: TrainingDataRef): Promise<number> => {
    const key = `${ref.manifestUri}\n${ref.manifestSha256}`;
    let pools = sizes.get(key);
    if (!pools) {
      pools = read(ref.manifestUri);
      sizes.set(key, pools);
      // Without a sha256 the object may change: only reads in flight together share the result.
      const forget = () => sizes.get(key) === pools && sizes.delete(key);
      pools.then(() => ref.manifestSha256 || forget(), forget);
      while (sizes.size > POOL_SIZE_CACHE_ENTRIES) sizes.delete(sizes.keys().next().value!);
    }
    const size = (await pools).get(ref.pool);
    if (size === undefined) {
      throw new ManifestError(
        `pool "${ref.pool}" is not in the manifest (it has ${[...(await pools).keys()].join(", ")})`,
      );
    }
    return size;
  };
}
