import type { KV } from "@nats-io/kv";
import { unavailable, waitingOutNatsRestarts } from "@ragtune/runtime";
import type { JsonStore } from "./blob-store.js";

/**
 * A JSON store over a NATS KV bucket (keys are hex hashes, which KV accepts as they are). NATS restarting is
 * waited out (30 s): a score the judge was paid for is kept through a restart instead of lost with the call. A
 * bucket still unreachable after that is the backend being down: UNAVAILABLE, not an internal error.
 */
export function createNatsKvStore<T>(kv: KV, prefix = ""): JsonStore<T> {
  const encoder = new TextEncoder();
  const reachable = async <R>(what: string, operation: () => Promise<R>): Promise<R> => {
    try {
      return await waitingOutNatsRestarts(operation);
    } catch (error) {
      throw unavailable(`judge store (NATS KV): ${what} failed: ${(error as Error).message}`, error);
    }
  };
  const get = (key: string) =>
    reachable("get", async () => {
      const entry = await kv.get(`${prefix}${key}`);
      if (entry?.operation !== "PUT" || entry.value.length === 0) return undefined;
      return entry.json<T>();
    });
  return {
    get,
    put: (key, value) =>
      reachable("put", async () => {
        await kv.put(`${prefix}${key}`, encoder.encode(JSON.stringify(value)));
      }),
    async putIfAbsent(key, value) {
      try {
        await waitingOutNatsRestarts(() => kv.create(`${prefix}${key}`, encoder.encode(JSON.stringify(value))));
        return value;
      } catch (error) {
        // create() refuses an existing key: another replica froze its value first, and that one wins.
        const existing = await get(key);
        if (existing === undefined)
          throw unavailable(`judge store (NATS KV): create failed: ${(error as Error).message}`, error);
        return existing;
      }
    },
  };
}
