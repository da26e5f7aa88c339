/** A counting semaphore: at most `limit` tasks run at once, the rest wait in FIFO order. */
export interface ConcurrencyLimiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Waits for a slot; call the returned function exactly once to give it back (for work that outlives a promise, like a stream). */
  acquire(signal?: AbortSignal): Promise<() => void>;
  readonly active: number;
  readonly waiting: number;
  readonly limit: number;
}

export function createConcurrencyLimiter(limit: number): ConcurrencyLimiter {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`concurrency limit must be an integer >= 1, got ${limit}`);
  let active = 0;
  const queue: Array<() => void> = [];
  const release = () => {
    const next = queue.shift();
    if (next) next();
    else active--;
  };
  return {
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
    limit,
    async run<T>(task: () => Promise<T>): Promise<T> {
      const done = await this.acquire();
      try {
        return await task();
      } finally {
        done();
      }
    },
    async acquire(signal?: AbortSignal) {
      if (active < limit) active++;
      else {
        // The slot passes straight from the releasing task to the next waiter, so `active` never dips.
        await new Promise<void>((resolve, reject) => {
          const waiter = () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          };
          const onAbort = () => {
            const at = queue.indexOf(waiter);
            if (at >= 0) queue.splice(at, 1);
            reject(signal?.reason);
          };
          if (signal?.aborted) return reject(signal.reason);
          signal?.addEventListener("abort", onAbort, { once: true });
          queue.push(waiter);
        });
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release();
      };
    },
  };
}
