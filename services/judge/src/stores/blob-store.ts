/**
 * The judge's durable state (frozen evaluation steps, cached repeat scores) is small JSON under
 * content-addressed keys. One interface, three homes: NATS KV in production, a directory or memory in tests
 * and single-process runs.
 */
export interface JsonStore<T> {
  get(key: string): Promise<T | undefined>;
  put(key: string, value: T): Promise<void>;
  /** Stores value unless the key already holds one; returns whichever value the key holds afterwards. */
  putIfAbsent(key: string, value: T): Promise<T>;
}

export function createMemoryStore<T>(): JsonStore<T> & { size(): number } {
  const map = new Map<string, string>();
  return {
    async get(key) {
      const raw = map.get(key);
      return raw === undefined ? undefined : (JSON.parse(raw) as T);
    },
    async put(key, value) {
      // Stored as JSON so callers can't mutate what is cached through a shared reference.
      map.set(key, JSON.stringify(value));
    },
    async putIfAbsent(key, value) {
      const existing = map.get(key);
      if (existing !== undefined) return JSON.parse(existing) as T;
      map.set(key, JSON.stringify(value));
      return value;
    },
    size: () => map.size,
  };
}
