/**
 * A bounded pool of expensive resources keyed by what they were built for (a llama.cpp context is
 * built for one model + adapter set). At most `max` exist; an idle one of another key is destroyed to
 * make room; waiters are served first come, first served.
 */
export interface KeyedPool<R> {
  acquire(key: string, signal?: AbortSignal): Promise<{ resource: R; release: () => void }>;
  /** Destroys the idle resources of a key (or all keys); busy ones go when released. */
  evict(key?: string): Promise<void>;
  /** Destroys every resource once released; later acquires fail. */
  close(): Promise<void>;
  stats(): { total: number; busy: number; idle: number; waiting: number };
}

interface Entry<R> {
  key: string;
  resource: R;
  busy: boolean;
}

interface Waiter<R> {
  key: string;
  resolve: (entry: Entry<R>) => void;
  reject: (error: unknown) => void;
}

export function createKeyedPool<R>(options: {
  max: number;
  create: (key: string) => Promise<R>;
  destroy: (resource: R) => Promise<void>;
}): KeyedPool<R> {
  if (!Number.isInteger(options.max) || options.max < 1) throw new RangeError("pool max must be an integer >= 1");
  const entries: Entry<R>[] = [];
  const waiters: Waiter<R>[] = [];
  let creating = 0;
  let closed = false;
  const evictOnRelease = new Set<string>();

  const destroy = (entry: Entry<R>) => {
    entries.splice(entries.indexOf(entry), 1);
    return options.destroy(entry.resource).catch(() => {});
  };

  function pump() {
    while (waiters.length > 0) {
      const head = waiters[0];
      const idle = entries.find((e) => !e.busy && e.key === head.key);
      if (idle) {
        waiters.shift();
        idle.busy = true;
        head.resolve(idle);
        continue;
      }
      if (entries.length + creating < options.max) {
        waiters.shift();
        creating++;
        options.create(head.key).then(
          (resource) => {
            creating--;
            const entry = { key: head.key, resource, busy: true };
            entries.push(entry);
            head.resolve(entry);
          },
          (error) => {
            creating--;
            head.reject(error);
            pump();
          },
        );
        continue;
      }
      const other = entries.find((e) => !e.busy);
      if (!other) return;
      void destroy(other);
    }
  }

  function release(entry: Entry<R>) {
    entry.busy = false;
    if (closed || evictOnRelease.has(entry.key)) void destroy(entry);
    pump();
  }

  return {
    async acquire(key, signal) {
      if (closed) throw new Error("pool is closed");
      signal?.throwIfAborted();
      evictOnRelease.delete(key);
      const entry = await new Promise<Entry<R>>((resolve, reject) => {
        const waiter: Waiter<R> = { key, resolve, reject };
        const onAbort = () => {
          const at = waiters.indexOf(waiter);
          if (at >= 0) {
            waiters.splice(at, 1);
            reject(signal?.reason);
          }
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        waiter.resolve = (e) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(e);
        };
        waiters.push(waiter);
        pump();
      });
      let released = false;
      return {
        resource: entry.resource,
        release: () => {
          if (released) return;
          released = true;
          release(entry);
        },
      };
    },
    async evict(key) {
      for (const e of entries) if (e.busy && (key === undefined || e.key === key)) evictOnRelease.add(e.key);
      const idle = entries.filter((e) => !e.busy && (key === undefined || e.key === key));
      await Promise.all(idle.map(destroy));
      pump();
    },
    async close() {
      closed = true;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error("pool is closed"));
      await Promise.all(entries.filter((e) => !e.busy).map(destroy));
    },
    stats: () => ({
      total: entries.length + creating,
      busy: entries.filter((e) => e.busy).length,
      idle: entries.filter((e) => !e.busy).length,
      waiting: waiters.length,
    }),
  };
}
