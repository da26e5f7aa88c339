/**
 * RecordStore on a NATS JetStream KV bucket: protobuf binary values, the KV revision as the record's version, and
 * `update(key, value, revision)` for compare-and-set. The bucket is file-backed, so records outlive the trainer,
 * and with replicas > 1 on a cluster they outlive a NATS node too.
 */
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { StorageType } from "@nats-io/jetstream";
import type { KV, Kvm } from "@nats-io/kv";
import { isKvRevisionConflict, openKv } from "@ragtune/runtime";
import { type RecordStore, RevisionConflictError, type Versioned } from "./record-store.js";

export interface KvBucketOptions {
  /** Copies kept on a NATS cluster; 1 on a single server. */
  replicas?: number;
}

export async function openKvBucket(kvm: Kvm, bucket: string, options: KvBucketOptions = {}): Promise<KV> {
  // Bounded like every bucket (RAGTUNE_KV_MAX_BYTES): a flood of jobs fills this bucket, not the JetStream store.
  return openKv(kvm, bucket, { history: 1, replicas: options.replicas ?? 1, storage: StorageType.File });
}

export function createKvRecordStore<D extends DescMessage>(kv: KV, schema: D): RecordStore<MessageShape<D>> {
  type T = MessageShape<D>;
  const decode = (data: Uint8Array) => fromBinary(schema, data) as T;
  const encode = (value: T) => toBinary(schema, value);

  async function get(key: string): Promise<Versioned<T> | undefined> {
    const entry = await kv.get(key);
    if (entry?.operation !== "PUT") return undefined;
    return { value: decode(entry.value), revision: entry.revision };
  }

  return {
    async list() {
      const keys: string[] = [];
      for await (const key of await kv.keys()) keys.push(key);
      const records = await Promise.all(keys.map(get));
      return records.filter((r): r is Versioned<T> => r !== undefined);
    },
    get,
    async create(key, value) {
      try {
        return await kv.create(key, encode(value));
      } catch (error) {
        if (isKvRevisionConflict(error)) throw new RevisionConflictError(key);
        throw error;
      }
    },
    async update(key, value, revision) {
      try {
        return await kv.update(key, encode(value), revision);
      } catch (error) {
        if (isKvRevisionConflict(error)) throw new RevisionConflictError(key);
        throw error;
      }
    },
    async put(key, value) {
      return kv.put(key, encode(value));
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
