/**
 * The placement loop: passes that put queued jobs on free slots (the choice itself is placement.ts's). Requests
 * coalesce: one pass at a time, and one more after it when anything asked meanwhile. With several trainer replicas
 * only the placement lease's holder places; the others retry once the lease could have lapsed. A job waiting out a
 * retry backoff gets a timer for when it may be placed.
 *
 * The lease keeps placers from getting in each other's way; it is not what keeps a GPU to one job, since a placer
 * can stall after checking it. Every placement is fenced by revisions instead: the slot's claim record is written
 * with the revision read (slot-claims.ts), then the job with the revision read before that, so of two placers
 * racing for one slot, or for one job, exactly one writes.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Job, JobState } from "@ragtune/contracts/trainer";
import type { TrainerEvents } from "../events/trainer-events.js";
import { needsGpu, resolveExecutor, withSpecDefaults } from "../spec/job-spec.js";
import type { PlacementLease } from "../store/placement-lease.js";
import type { SlotClaims } from "../store/slot-claims.js";
import { isActive, placeJob } from "./job-lifecycle.js";
import { byPriority, type JobQueue } from "./job-queue.js";
import type { NodeRegistry } from "./node-registry.js";
import {
  freeSlots,
  type PlacementRequest,
  type PlacementStrategy,
  planPlacements,
  type Slot,
  slotKey,
} from "./placement.js";

export interface PlacementLoopOptions {
  jobs: JobQueue;
  nodes: NodeRegistry;
  events: Pick<TrainerEvents, "jobPlaced">;
  strategy: PlacementStrategy;
  now: () => number;
  /** With several trainer replicas: only the lease holder places. Unset: this replica always places. */
  lease?: PlacementLease;
  /** The slots' claim records, shared by every replica. */
  slots: SlotClaims;
  /** True for a job that ended but whose process may still hold its slot (see scheduler.ts). */
  holdsSlotAfterEnd?: (job: Job) => boolean;
  onError: (what: string, error: unknown) => void;
}

export class PlacementLoop {
  private scheduling?: Promise<void>;
  private rerun = false;
  private retryTimer?: NodeJS.Timeout;

  constructor(private readonly options: PlacementLoopOptions) {}

  /** Runs a placement pass now, or once more after the one in flight. Resolves when placement is done. */
  request(): Promise<void> {
    if (this.scheduling) {
      this.rerun = true;
      return this.scheduling;
    }
    this.scheduling = (async () => {
      do {
        this.rerun = false;
        try {
          await this.pass();
        } catch (error) {
          this.options.onError("placement pass", error);
        }
      } while (this.rerun);
    })().finally(() => {
      this.scheduling = undefined;
    });
    return this.scheduling;
  }

  /** Stops the retry timer, waits for the pass in flight and gives the lease up. */
  async stop(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.scheduling;
    await this.options.lease?.release().catch((error) => this.options.onError("lease release", error));
  }

  /** Places what fits now; returns how many jobs it placed. */
  private async pass(): Promise<number> {
    const { jobs, nodes, lease } = this.options;
    if (lease) {
      const claim = await lease.claim();
      if (claim === "held-elsewhere") {
        // The holder places; try again once its lease could have lapsed (it may have died).
        this.armRetryTimer(lease.ttlMs);
        return 0;
      }
      // Taking over from another replica: its last placements may not have reached our cache yet.
      if (claim === "acquired") await jobs.load();
    }
    const now = this.options.now();
    const occupied = new Set<string>();
    const waiting: Job[] = [];
    let nextRetryMs = Number.POSITIVE_INFINITY;
    for (const job of jobs.all()) {
      if (this.occupiesItsSlot(job)) occupied.add(slotKey(job.nodeId, job.gpuIndex));
      else if (job.state === JobState.QUEUED) {
        const retryAt = job.retryTime ? timestampMs(job.retryTime) : 0;
        if (retryAt <= now) waiting.push(job);
        else nextRetryMs = Math.min(nextRetryMs, retryAt);
      }
    }
    this.armRetryTimer(nextRetryMs - now);
    if (waiting.length === 0) return 0;
    // Every slot of the ready nodes (best fit asks what a GPU could hold, free or not), and the free ones.
    const everySlot = freeSlots(nodes.all(), new Set());
    const slots = everySlot.filter((slot) => !occupied.has(slotKey(slot.nodeId, slot.gpuIndex)));
    if (slots.length === 0) return 0;
    const requests = waiting.sort(byPriority).map(placementRequest);
    const placements = planPlacements(requests, slots, this.options.strategy, everySlot);
    const placed = await Promise.all(placements.map(({ jobId, slot }) => this.placeFenced(jobId, slot)));
    return placed.filter(Boolean).length;
  }

  /** Active on its slot, or ended while its process may still run there. */
  private occupiesItsSlot(job: Job): boolean {
    return isActive(job) || (this.options.holdsSlotAfterEnd?.(job) ?? false);
  }

  /**
   * Claims the slot's record, then writes the job at the revision read before the claim; false when another
   * placer got there first (this pass's view was stale, or the lease lapsed while it ran).
   */
  private async placeFenced(jobId: string, slot: Slot): Promise<boolean> {
    const { jobs, lease, events } = this.options;
    const record = jobs.cachedRecord(jobId);
    if (record?.value.state !== JobState.QUEUED) return false;
    // A pass can outlive the lease it started under (a long store call, a paused process).
    if (lease && !lease.held()) return false;
    if (!(await this.claimSlot(slotKey(slot.nodeId, slot.gpuIndex), jobId))) return false;
    const { job, changed } = await jobs.writeAt(jobId, record.revision, (j) =>
      placeJob(j, { nodeId: slot.nodeId, gpuIndex: slot.gpuIndex }),
    );
    if (changed && job) await events.jobPlaced(job);
    return changed;
  }

  private async claimSlot(key: string, jobId: string): Promise<boolean> {
    const claim = await this.options.slots.get(key);
    if (claim && claim.jobId !== jobId && (await this.stillHolds(claim.jobId, key))) return false;
    return this.options.slots.claim(key, jobId, claim?.revision);
  }

  /**
   * Whether the job the slot was last given to still holds it, read from the store. A slot can name a job that is
   * not on it: its placer claimed the slot and stalled, or died, before writing the job. Such a job, still queued,
   * gets its revision moved on, so a placer still about to write it onto the slot fails its revision check.
   */
  private async stillHolds(holderId: string, key: string): Promise<boolean> {
    const { jobs } = this.options;
    for (let attempt = 0; attempt < 3; attempt++) {
      const fresh = await jobs.reread(holderId);
      if (!fresh) return false;
      const job = fresh.value;
      if (slotKey(job.nodeId, job.gpuIndex) === key && this.occupiesItsSlot(job)) return true;
      if (job.state !== JobState.QUEUED) return false;
      if ((await jobs.writeAt(holderId, fresh.revision, () => true)).changed) return false;
    }
    return true; // it keeps changing: leave the slot to the next pass
  }

  private armRetryTimer(delayMs: number) {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!Number.isFinite(delayMs)) return;
    this.retryTimer = setTimeout(() => void this.request(), Math.max(0, delayMs) + 5);
    this.retryTimer.unref();
  }
}

function placementRequest(job: Job): PlacementRequest {
  const executor = resolveExecutor(job.spec ?? withSpecDefaults(undefined));
  return {
    jobId: job.jobId,
    executor,
    needsGpu: needsGpu(executor),
    estimatedBytes: Number(job.estimatedMemoryBytes),
    minGpuMemoryBytes: Number(job.minGpuMemoryBytes),
  };
}
