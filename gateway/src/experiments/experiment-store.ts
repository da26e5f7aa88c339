/**
 * Durable experiment records in a NATS KV bucket (one key per experiment, binary protobuf), so any gateway
 * replica can answer for any experiment and a restarted gateway resumes from what is stored.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Experiment, ExperimentSchema } from "@ragtune/contracts/gateway";
import type { KV } from "@nats-io/kv";
import { type NatsHandle, openKv, waitForWake } from "@ragtune/runtime";

export const EXPERIMENTS_BUCKET = "ragtune_experiments";

export interface ExperimentStore {
  get(id: string): Promise<Experiment | undefined>;
  list(): Promise<Experiment[]>;
  /** Creates the record; false when the id exists already. */
  insert(experiment: Experiment): Promise<boolean>;
  /** Read-modify-write with a revision check, retried on a concurrent write. */
  update(id: string, change: (experiment: Experiment) => void): Promise<Experiment>;
  /** Yields the record now and after every change, until the signal aborts. */
  watch(id: string, signal: AbortSignal): AsyncIterable<Experiment>;
}

export async function createKvExperimentStore(nats: NatsHandle): Promise<ExperimentStore> {
  const kv: KV = await openKv(nats.kvm, EXPERIMENTS_BUCKET, { history: 1 });
  const decode = (data: Uint8Array) => fromBinary(ExperimentSchema, data);
  return {
    async get(id) {
      const entry = await kv.get(id);
      return entry && entry.operation === "PUT" && entry.length > 0 ? decode(entry.value) : undefined;
    },
    async list() {
      const out: Experiment[] = [];
      for await (const key of await kv.keys()) {
        const entry = await kv.get(key);
        if (entry && entry.operation === "PUT" && entry.length > 0) out.push(decode(entry.value));
      }
      return out;
    },
    async insert(experiment) {
      try {
        await kv.create(experiment.experimentId, toBinary(ExperimentSchema, experiment));
        return true;
      } catch (error) {
        if (/wrong last sequence|key exists/i.test((error as Error).message)) return false;
        throw error;
      }
    },
    async update(id, change) {
      for (let attempt = 0; ; attempt++) {
        const entry = await kv.get(id);
        if (entry?.operation !== "PUT") throw new Error(`experiment ${id} vanished`);
        const experiment = decode(entry.value);
        change(experiment);
        try {
          await kv.update(id, toBinary(ExperimentSchema, experiment), entry.revision);
          return experiment;
        } catch (error) {
          if (attempt >= 20 || !/wrong last sequence/i.test((error as Error).message)) throw error;
        }
      }
    },
    async *watch(id, signal) {
      const watcher = await kv.watch({ key: id });
      signal.addEventListener("abort", () => watcher.stop(), { once: true });
      for await (const entry of watcher) {
        if (entry.operation === "PUT" && entry.length > 0) yield decode(entry.value);
      }
    },
  };
}

/** For in-memory tests of the service class. */
export function createMemoryExperimentStore(): ExperimentStore {
  const records = new Map<string, Uint8Array>();
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  const decode = (data: Uint8Array) => fromBinary(ExperimentSchema, data);
  return {
    async get(id) {
      const data = records.get(id);
      return data ? decode(data) : undefined;
    },
    async list() {
      return [...records.values()].map(decode);
    },
    async insert(experiment) {
      if (records.has(experiment.experimentId)) return false;
      records.set(experiment.experimentId, toBinary(ExperimentSchema, experiment));
      notify();
      return true;
    },
    async update(id, change) {
      const data = records.get(id);
      if (!data) throw new Error(`experiment ${id} vanished`);
      const experiment = decode(data);
      change(experiment);
      records.set(id, toBinary(ExperimentSchema, create(ExperimentSchema, experiment)));
      notify();
      return experiment;
    },
    async *watch(id, signal) {
      let wake: (() => void) | undefined;
      const listener = () => wake?.();
      listeners.add(listener);
      try {
        let last: Uint8Array | undefined;
        while (!signal.aborted) {
          const data = records.get(id);
          if (data && data !== last) {
            last = data;
            yield decode(data);
          }
          await waitForWake(signal, (woken) => {
            wake = woken;
          });
        }
      } finally {
        listeners.delete(listener);
      }
    },
  };
}
