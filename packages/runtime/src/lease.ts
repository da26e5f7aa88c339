/**
 * A lease among replicas on a NATS KV key, written with compare-and-set on the revision read, so exactly one
 * holder at a time. No timestamp of one host is ever compared with another host's clock: a holder renews by
 * rewriting the key (its revision changes), and an observer judges expiry by its own monotonic clock, counting
 * from when it last saw the revision change. A holder that dies stops changing the revision; ttlMs later (by the
 * observer's clock) the lease may be taken over. The trainer leases placement with it, the gateway each
 * experiment run.
 */
import type { KV } from "@nats-io/kv";

export type LeaseResult = "acquired" | "renewed" | "held-elsewhere";

export interface Lease {
  /** Takes or renews the lease for ttlMs. */
  claim(): Promise<LeaseResult>;
  /** Gives the lease up if this holder has it, so a successor need not wait for it to lapse. */
  release(): Promise<void>;
  /**
   * True while this holder's last successful claim is younger than ttlMs by its own clock, counted from before
   * that write was sent: an observer starts counting only once it sees the write, so it cannot take the lease
   * over while this is still true. Check it right before a write that only the holder may make.
   */
  held(): boolean;
  /** KV revision of this holder's last successful claim (a fencing token); undefined when it holds nothing. */
  readonly revision: number | undefined;
  readonly ttlMs: number;
}

interface LeaseRecord {
  /** Empty once released. */
  holder: string;
}

/** When this process first saw a lease key at a revision, by its monotonic clock. */
interface Observation {
  revision: number;
  seenAtMs: number;
}

// Kept per KV handle, not per Lease object: a caller that makes a Lease for each claim (the gateway's runner)
// must still see the lease age between its claims.
const observationsByKv = new WeakMap<KV, Map<string, Observation>>();

function observations(kv: KV): Map<string, Observation> {
  let map = observationsByKv.get(kv);
  if (!map) {
    map = new Map();
    observationsByKv.set(kv, map);
  }
  return map;
}

const encode = (record: LeaseRecord) => new TextEncoder().encode(JSON.stringify(record));
const decode = (bytes: Uint8Array): LeaseRecord => {
  try {
    return { holder: String((JSON.parse(new TextDecoder().decode(bytes)) as LeaseRecord).holder ?? "") };
  } catch {
    return { holder: "" };
  }
};

/** A KV create or update refused because the key changed since it was read (or exists, for create). */
export const isKvRevisionConflict = (error: unknown) =>
  /wrong last sequence|key exists|10071/i.test(String((error as Error)?.message ?? error));

/**
 * `now` must be monotonic (default performance.now); it is only ever compared with itself.
 */
export function createKvLease(
  kv: KV,
  key: string,
  holder: string,
  ttlMs = 15_000,
  now: () => number = () => performance.now(),
): Lease {
  const seen = observations(kv);
  let mine: { revision: number; validUntilMs: number } | undefined;

  /** The age of the key's current revision as this process has watched it. */
  function ageOf(revision: number, atMs: number): number {
    const known = seen.get(key);
    if (known?.revision !== revision) {
      seen.set(key, { revision, seenAtMs: atMs });
      return 0;
    }
    return atMs - known.seenAtMs;
  }

  async function write(revision: number | undefined, startedMs: number): Promise<boolean> {
    try {
      const written =
        revision === undefined
          ? await kv.create(key, encode({ holder }))
          : await kv.update(key, encode({ holder }), revision);
      mine = { revision: written, validUntilMs: startedMs + ttlMs };
      seen.set(key, { revision: written, seenAtMs: startedMs });
      return true;
    } catch (error) {
      // Another claimant wrote between our read and our write: it holds the lease now.
      if (isKvRevisionConflict(error)) {
        mine = undefined;
        return false;
      }
      throw error;
    }
  }

  return {
    ttlMs,
    get revision() {
      return mine?.revision;
    },
    held() {
      return mine !== undefined && now() < mine.validUntilMs;
    },
    async claim() {
      const startedMs = now();
      const entry = await kv.get(key);
      if (entry?.operation !== "PUT") {
        return (await write(undefined, startedMs)) ? "acquired" : "held-elsewhere";
      }
      const current = decode(entry.value);
      const age = ageOf(entry.revision, startedMs);
      if (current.holder === holder) {
        // Still ours at this revision: nobody took it over, since a taker would have had to change the revision.
        return (await write(entry.revision, startedMs)) ? "renewed" : "held-elsewhere";
      }
      if (current.holder !== "" && age < ttlMs) {
        mine = undefined;
        return "held-elsewhere";
      }
      return (await write(entry.revision, startedMs)) ? "acquired" : "held-elsewhere";
    },
    async release() {
      mine = undefined;
      const entry = await kv.get(key);
      if (entry?.operation !== "PUT" || decode(entry.value).holder !== holder) return;
      await kv.update(key, encode({ holder: "" }), entry.revision).catch(() => {});
    },
  };
}
