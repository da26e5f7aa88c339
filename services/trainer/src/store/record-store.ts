/**
 * Durable records (jobs, nodes, adapters) with optimistic concurrency: every update names the revision it read,
 * so two trainer replicas (or a restarted one racing a stale cache) never overwrite each other's transitions.
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";

export interface Versioned<T> {
  value: T;
  revision: number;
}

/** The record changed since it was read (or already exists, for create). */
export class RevisionConflictError extends Error {
  constructor(key: string) {
    super(`record "${key}" changed concurrently`);
    this.name = "RevisionConflictError";
  }
}

export interface RecordStore<T> {
  list(): Promise<Versioned<T>[]>;
  get(key: string): Promise<Versioned<T> | undefined>;
  /** Fails with RevisionConflictError when the key exists. */
  create(key: string, value: T): Promise<number>;
  /** Fails with RevisionConflictError when the stored revision is not `revision`. */
  update(key: string, value: T, revision: number): Promise<number>;
  /** Unconditional write, for records with one writer (a node's own heartbeat). */
  put(key: string, value: T): Promise<number>;
  /** Calls back on every later change by anyone (other replicas included); returns a stop function. */
  watch(onChange: (key: string, record: Versioned<T>) => void): Promise<() => void>;
}

/** In-process store: the same contract without NATS, for unit tests and the scheduling bench. */
export function createMemoryRecordStore<D extends DescMessage>(_schema: D): RecordStore<MessageShape<D>> {
  type T = MessageShape<D>;
  const records = new Map<string, Versioned<T>>();
  const watchers = new Set<(key: string, record: Versioned<T>) => void>();
  let sequence = 0;
  const write = (key: string, value: T) => {
    const record = { value, revision: ++sequence };
    records.set(key, record);
    for (const watcher of watchers) watcher(key, record);
    return record.revision;
  };
  return {
    async list() {
      return [...records.values()];
    },
    async get(key) {
      return records.get(key);
    },
    async create(key, value) {
      if (records.has(key)) throw new RevisionConflictError(key);
      return write(key, value);
    },
    async update(key, value, revision) {
      if (records.get(key)?.revision !== revision) throw new RevisionConflictError(key);
      return write(key, value);
    },
    async put(key, value) {
      return write(key, value);
    },
    async watch(onChange) {
      watchers.add(onChange);
      return () => watchers.delete(onChange);
    },
  };
}
