/**
 * Which job a slot (one GPU, or a node's CPU slot) was last given to, as a compare-and-set record per slot. Job
 * records alone cannot keep a GPU to one job: two placers writing two different jobs onto one GPU touch two
 * different keys, so each write's revision check passes. A placer first claims the slot's record with the
 * revision it read, so of two placers only one can take a given slot (placement-loop.ts).
 */
import type { KV } from "@nats-io/kv";
import { isKvRevisionConflict } from "@ragtune/runtime";

export interface SlotClaim {
  jobId: string;
  revision: number;
}

export interface SlotClaims {
  get(slot: string): Promise<SlotClaim | undefined>;
  /**
   * Gives the slot to `jobId` if its record is still at `revision` (undefined: the slot was never claimed);
   * false when another placer wrote it first.
   */
  claim(slot: string, jobId: string, revision: number | undefined): Promise<boolean>;
}

/** KV keys allow few characters: the slot key (node id, "/", gpu) is spelled in base64url. */
const kvKey = (slot: string) => `slot.${Buffer.from(slot).toString("base64url")}`;

export function createKvSlotClaims(kv: KV): SlotClaims {
  return {
    async get(slot) {
      const entry = await kv.get(kvKey(slot));
      if (entry?.operation !== "PUT") return undefined;
      return { jobId: new TextDecoder().decode(entry.value), revision: entry.revision };
    },
    async claim(slot, jobId, revision) {
      const value = new TextEncoder().encode(jobId);
      try {
        if (revision === undefined) await kv.create(kvKey(slot), value);
        else await kv.update(kvKey(slot), value, revision);
        return true;
      } catch (error) {
        if (isKvRevisionConflict(error)) return false;
        throw error;
      }
    },
  };
}

/** The same contract in memory, for one process (unit tests, the scheduling bench). */
export function createMemorySlotClaims(): SlotClaims {
  const claims = new Map<string, SlotClaim>();
  let sequence = 0;
  return {
    async get(slot) {
      return claims.get(slot);
    },
    async claim(slot, jobId, revision) {
      if (claims.get(slot)?.revision !== revision) return false;
      claims.set(slot, { jobId, revision: ++sequence });
      return true;
    },
  };
}
