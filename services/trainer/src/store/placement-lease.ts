/**
 * One placer at a time among trainer replicas: placement decisions read the whole fleet's occupancy, so two
 * replicas placing at once could give one GPU two jobs. A replica that takes the lease over from another re-reads
 * all jobs before placing.
 */
import type { KV } from "@nats-io/kv";
import { createKvLease, type Lease } from "@ragtune/runtime";

export type PlacementLease = Lease;

export function createKvPlacementLease(kv: KV, holder: string, ttlMs = 15_000, now = Date.now): PlacementLease {
  return createKvLease(kv, "placement", holder, ttlMs, now);
}
