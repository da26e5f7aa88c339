/** Bounded concurrency helpers over the generator's ConcurrencyLimiter (one semaphore implementation). */
import type { ConcurrencyLimiter } from "@ragtune/llm";

export { type ConcurrencyLimiter, createConcurrencyLimiter } from "@ragtune/llm";

/** Runs a task under several limiters, taking them in the given order (outer first) so two callers never deadlock. */
export function underLimiters<T>(limiters: readonly ConcurrencyLimiter[], task: () => Promise<T>): Promise<T> {
  return limiters.reduceRight<() => Promise<T>>((inner, limiter) => () => limiter.run(inner), task)();
}

/** Maps items with at most `concurrency` in progress; results keep input order; the first error rejects. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index], index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
