/**
 * RecordStore on a NATS JetStream KV bucket: protobuf binary values, the KV revision as the record's version, and
 * `update(key, value, revision)` for compare-and-set. The bucket is file-backed, so records outlive the trainer,
 * and with replicas > 1 on a cluster they outlive a NATS node too.
 */
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { StorageType } from "@nats-io/jetstream";
import type { KV, Kvm } from "@nats-io/kv";
import { isKvRevisionConflict, openKv, unavailable } from "@ragtune/runtime";
import { type RecordStore, RevisionConflictError, type Versioned } from "./record-store.js";

export interface KvBucketOptions {
  /** Copies kept on a NATS cluster; 1 on a single server. */
  replicas?: number;
}

export async function openKvBucket(kvm: Kvm, bucket: string, options: KvBucketOptions = {}): Promise<KV> {
  // Bounded like every bucket (RAGTUNE_KV_MAX_BYTES): a flood of jobs fills this bucket, not the JetStream store.
  return openKv(kvm, bucket, { history: 1, replicas: options.replicas ?? 1, storage: StorageType.File });
}

/**
 * A KV operation that failed for any reason other than a revision conflict (a request timed out, no responders,
 * the connection closed) is the store being unreachable: UNAVAILABLE, which callers retry, not the INTERNAL a
 * raw NATS error becomes. A busy NATS (a burst of job submissions) timed a write out and ended a whole experiment.
 */
function storeUnavailable(what: string, key: string, error: unknown): Error {
  if (isKvRevisionConflict(error)) return new RevisionConflictError(key);
  return unavailable(`trainer store (NATS KV): ${what} "${key}" failed: ${(error as Error).message}`, error);
}

export function createKvRecordStore<D extends DescMessage>(kv: KV, schema: D): RecordStore<MessageShape<D>> {
  type T = MessageShape<D>;
  const decode = (data: Uint8Array) => fromBinary(schema, data) as T;
  const encode = (value: T) => toBinary(schema, value);

  async function get(key: string): Promise<Versioned<T> | undefined> {
    const entry = await kv.get(key).catch((error) => {
      throw storeUnavailable("get", key, error);
    });
    if (entry?.operation !== "PUT") return undefined;
    return { value: decode(entry.value), revision: entry.revision };
  }

  return {
    async list() {
      const keys: string[] = [];
      try {
        for await (const key of await kv.keys()) keys.push(key);
      } catch (error) {
        throw storeUnavailable("list", "*", error);
      }
      const records = await Promise.all(keys.map(get));
      return records.filter((r): r is Versioned<T> => r !== undefined);
    },
    get,
    async create(key, value) {
      try {
        return await kv.create(key, encode(value));
      } catch (error) {
        throw storeUnavailable("create", key, error);
      }
    },
    async update(key, value, revision) {
      try {
        return await kv.update(key, encode(value), revision);
      } catch (error) {
        throw storeUnavailable("update", key, error);
      }
    },
    async put(key, value) {
      try {
        return await kv.put(key, encode(value));
      } catch (error) {
        throw storeUnavailable("put", key, error);
      }
    },
    async watch(onChange) {
      const watcher = await kv.watch({ include: "updates" });
      void (async () => {
        for await (const entry of watcher) {
          if (entry.operation !== "PUT") continue;
          onChange(entry.key, { value: decode(entry.value), revision: entry.revision });
        }
      })();
      return () => watcher.stop();
    },
  };
}
