/**
 * A lease among replicas on a NATS KV key: written with compare-and-set and an expiry, so exactly one holder at a
 * time, and a holder that dies loses it once the expiry passes. The trainer leases placement with it, the gateway
 * each experiment run.
 */
import type { KV } from "@nats-io/kv";

export type LeaseResult = "acquired" | "renewed" | "held-elsewhere";

export interface Lease {
  /** Takes or renews the lease for ttlMs. */
  claim(): Promise<LeaseResult>;
  /** Gives the lease up if this holder has it, so a successor need not wait for it to lapse. */
  release(): Promise<void>;
  readonly ttlMs: number;
}

interface LeaseRecord {
  holder: string;
  expiresAtMs: number;
}

const encode = (record: LeaseRecord) => new TextEncoder().encode(JSON.stringify(record));
const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as LeaseRecord;

export function createKvLease(kv: KV, key: string, holder: string, ttlMs = 15_000, now = Date.now): Lease {
  return {
    ttlMs,
    async claim() {
      const mine = { holder, expiresAtMs: now() + ttlMs };
      try {
        const entry = await kv.get(key);
        if (entry?.operation !== "PUT") {
          await kv.create(key, encode(mine));
          return "acquired";
        }
        const current = decode(entry.value);
        if (current.holder !== holder && current.expiresAtMs > now()) return "held-elsewhere";
        await kv.update(key, encode(mine), entry.revision);
        return current.holder === holder ? "renewed" : "acquired";
      } catch (error) {
        // Another holder wrote between our read and write: it holds the lease now.
        if (/wrong last sequence|key exists|10071/i.test(String((error as Error).message))) return "held-elsewhere";
        throw error;
      }
    },
    async release() {
      const entry = await kv.get(key);
      if (entry?.operation !== "PUT") return;
      if (decode(entry.value).holder !== holder) return;
      await kv.update(key, encode({ holder: "", expiresAtMs: 0 }), entry.revision).catch(() => {});
    },
  };
}
