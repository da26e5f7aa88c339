/**
 * One placer at a time among trainer replicas: placement decisions read the whole fleet's occupancy, so two
 * replicas placing at once could give one GPU two jobs. The lease is a KV key written with compare-and-set and
 * an expiry; a replica that takes it over from another re-reads all jobs before placing.
 */
import type { KV } from "@nats-io/kv";

export type LeaseResult = "acquired" | "renewed" | "held-elsewhere";

export interface PlacementLease {
  /** Takes or renews the lease for ttlMs. */
  claim(): Promise<LeaseResult>;
  /** Gives the lease up if this replica holds it, so a successor need not wait for it to lapse. */
  release(): Promise<void>;
  readonly ttlMs: number;
}

interface LeaseRecord {
  holder: string;
  expiresAtMs: number;
}

const KEY = "placement";

export function createKvPlacementLease(kv: KV, holder: string, ttlMs = 15_000, now = Date.now): PlacementLease {
  const encode = (record: LeaseRecord) => new TextEncoder().encode(JSON.stringify(record));
  return {
    ttlMs,
    async claim() {
      const mine = { holder, expiresAtMs: now() + ttlMs };
      try {
        const entry = await kv.get(KEY);
        if (entry?.operation !== "PUT") {
          await kv.create(KEY, encode(mine));
          return "acquired";
        }
        const current = JSON.parse(new TextDecoder().decode(entry.value)) as LeaseRecord;
        if (current.holder !== holder && current.expiresAtMs > now()) return "held-elsewhere";
        await kv.update(KEY, encode(mine), entry.revision);
        return current.holder === holder ? "renewed" : "acquired";
      } catch (error) {
        // Another replica wrote between our read and write: it holds the lease now.
        if (/wrong last sequence|key exists|10071/i.test(String((error as Error).message))) return "held-elsewhere";
        throw error;
      }
    },
    async release() {
      const entry = await kv.get(KEY);
      if (entry?.operation !== "PUT") return;
      const current = JSON.parse(new TextDecoder().decode(entry.value)) as LeaseRecord;
      if (current.holder !== holder) return;
      await kv.update(KEY, encode({ holder: "", expiresAtMs: 0 }), entry.revision).catch(() => {});
    },
  };
}
