/**
 * Every JetStream KV bucket, object store and stream gets a byte limit (and a TTL where its data may age out), so
 * one bucket that fills up refuses its own writes ("maximum bytes exceeded") instead of taking the whole JetStream
 * store, and every other bucket, down with it. Limits are applied to existing buckets too: kvm.create and
 * objm.create leave an existing stream's configuration as it was.
 *
 * Defaults come from settings (RAGTUNE_KV_MAX_BYTES, RAGTUNE_OBJECT_STORE_MAX_BYTES) through
 * setBucketLimitDefaults, called by runService and runWorker; a bucket may ask for its own.
 */
import type { JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import type { KV, Kvm, KvOptions } from "@nats-io/kv";
import type { ObjectStore, ObjectStoreOptions, Objm } from "@nats-io/obj";

const MiB = 1024 * 1024;

export interface BucketLimitDefaults {
  kvMaxBytes: number;
  objectStoreMaxBytes: number;
}

/*
 * JetStream reserves each stream's max_bytes against the server's max_file_store (a stream that does not fit is
 * refused: "insufficient storage resources available"), so the defaults add up to about 5 GiB for the whole suite:
 * 8 KV buckets (the judge's cache asks for 1 GiB), 3 object stores and the events stream.
 */
export const DEFAULT_KV_MAX_BYTES = 128 * MiB;
export const DEFAULT_OBJECT_STORE_MAX_BYTES = 1024 * MiB;
export const DEFAULT_EVENTS_MAX_BYTES = 256 * MiB;

const defaults: BucketLimitDefaults = {
  kvMaxBytes: DEFAULT_KV_MAX_BYTES,
  objectStoreMaxBytes: DEFAULT_OBJECT_STORE_MAX_BYTES,
};

/** Sets the byte limits of buckets that do not name their own (process-wide; from settings at start-up). */
export function setBucketLimitDefaults(limits: Partial<BucketLimitDefaults>): void {
  if (limits.kvMaxBytes) defaults.kvMaxBytes = limits.kvMaxBytes;
  if (limits.objectStoreMaxBytes) defaults.objectStoreMaxBytes = limits.objectStoreMaxBytes;
}

export function bucketLimitDefaults(): Readonly<BucketLimitDefaults> {
  return { ...defaults };
}

export interface BucketLimits {
  /** Most bytes the bucket holds; default from setBucketLimitDefaults. */
  maxBytes?: number;
  /** Entries older than this are removed, ms; default none (kept until deleted). */
  ttlMs?: number;
}

type JsHolder = { js: { jetstreamManager(): Promise<JetStreamManager> } };

/** Brings an existing stream's limits to those wanted; a no-op when they already match. */
export async function applyStreamLimits(
  jsm: JetStreamManager,
  stream: string,
  wanted: Pick<StreamConfig, "max_bytes" | "max_age">,
): Promise<void> {
  const info = await jsm.streams.info(stream);
  if (info.config.max_bytes === wanted.max_bytes && info.config.max_age === wanted.max_age) return;
  await jsm.streams.update(stream, { ...info.config, ...wanted });
}

const nanos = (ms: number | undefined) => (ms ? ms * 1e6 : 0);

/** Opens (creating if needed) a KV bucket with a byte limit and optional TTL. */
export async function openKv(kvm: Kvm, bucket: string, options: Partial<KvOptions> & BucketLimits = {}): Promise<KV> {
  const { maxBytes = defaults.kvMaxBytes, ttlMs, ...kvOptions } = options;
  const kv = await kvm.create(bucket, { ...kvOptions, max_bytes: maxBytes, ...(ttlMs ? { ttl: ttlMs } : {}) });
  const jsm = await (kvm as unknown as JsHolder).js.jetstreamManager();
  await applyStreamLimits(jsm, `KV_${bucket}`, { max_bytes: maxBytes, max_age: nanos(ttlMs) });
  return kv;
}

/** Opens (creating if needed) an object store with a byte limit and optional TTL. */
export async function openObjectStore(
  objm: Objm,
  bucket: string,
  options: Partial<ObjectStoreOptions> & BucketLimits = {},
): Promise<ObjectStore> {
  const { maxBytes = defaults.objectStoreMaxBytes, ttlMs, ...storeOptions } = options;
  // An object store's ttl is in nanoseconds (a KV bucket's in milliseconds).
  const store = await objm.create(bucket, {
    ...storeOptions,
    max_bytes: maxBytes,
    ...(ttlMs ? { ttl: nanos(ttlMs) } : {}),
  });
  const jsm = await (objm as unknown as JsHolder).js.jetstreamManager();
  await applyStreamLimits(jsm, `OBJ_${bucket}`, { max_bytes: maxBytes, max_age: nanos(ttlMs) });
  return store;
}
