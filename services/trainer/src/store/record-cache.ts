/**
 * A store's records as this replica last saw them, kept current by the store's watch. A record older than the one
 * held (a watch event overtaken by this replica's own write) is ignored, so the cache only moves forward.
 */
import type { RecordStore, Versioned } from "./record-store.js";

export class RecordCache<T> {
  private readonly records = new Map<string, Versioned<T>>();

  /** `onApplied` sees every record the cache takes, whoever wrote it. */
  constructor(
    private readonly store: RecordStore<T>,
    private readonly keyOf: (value: T) => string,
    private readonly onApplied: (value: T) => void = () => {},
  ) {}

  /** Follows every later write (other replicas' too); returns the stop function. */
  follow(): Promise<() => void> {
    return this.store.watch((_key, record) => this.apply(record));
  }

  /** Reads every stored record. */
  async load(): Promise<void> {
    for (const record of await this.store.list()) this.apply(record);
  }

  /** Reads one record from the store; the newest known afterwards (undefined when there is none). */
  async reload(key: string): Promise<Versioned<T> | undefined> {
    const record = await this.store.get(key);
    if (record) this.apply(record);
    return this.records.get(key);
  }

  apply(record: Versioned<T>): void {
    const key = this.keyOf(record.value);
    const cached = this.records.get(key);
    if (cached && cached.revision >= record.revision) return;
    this.records.set(key, record);
    this.onApplied(record.value);
  }

  get(key: string): Versioned<T> | undefined {
    return this.records.get(key);
  }

  values(): T[] {
    return [...this.records.values()].map((record) => record.value);
  }
}
