/**
 * The placement loop: passes that put queued jobs on free slots (the choice itself is placement.ts's). Requests
 * coalesce: one pass at a time, and one more after it when anything asked meanwhile. With several trainer replicas
 * only the placement lease's holder places; the others retry once the lease could have lapsed. A job waiting out a
 * retry backoff gets a timer for when it may be placed.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Job, JobState } from "@ragtune/contracts/trainer";
import type { TrainerEvents } from "../events/trainer-events.js";
import { needsGpu, resolveExecutor, withSpecDefaults } from "../spec/job-spec.js";
import type { PlacementLease } from "../store/placement-lease.js";
import { isActive, placeJob } from "./job-lifecycle.js";
import { byPriority, type JobQueue } from "./job-queue.js";
import type { NodeRegistry } from "./node-registry.js";
import { freeSlots, type PlacementRequest, type PlacementStrategy, planPlacements, slotKey } from "./placement.js";

export interface PlacementLoopOptions {
  jobs: JobQueue;
  nodes: NodeRegistry;
  events: Pick<TrainerEvents, "jobPlaced">;
  strategy: PlacementStrategy;
  now: () => number;
  /** With several trainer replicas: only the lease holder places. Unset: this replica always places. */
  lease?: PlacementLease;
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
      if (isActive(job)) occupied.add(slotKey(job.nodeId, job.gpuIndex));
      else if (job.state === JobState.QUEUED) {
        const retryAt = job.retryTime ? timestampMs(job.retryTime) : 0;
        if (retryAt <= now) waiting.push(job);
        else nextRetryMs = Math.min(nextRetryMs, retryAt);
      }
    }
    this.armRetryTimer(nextRetryMs - now);
    if (waiting.length === 0) return 0;
    const slots = freeSlots(nodes.all(), occupied);
    if (slots.length === 0) return 0;
    const requests = waiting.sort(byPriority).map(placementRequest);
    const placements = planPlacements(requests, slots, this.options.strategy);
    const placed = await Promise.all(
      placements.map(async ({ jobId, slot }) => {
        const { job, changed } = await jobs.mutate(jobId, (j) =>
          placeJob(j, { nodeId: slot.nodeId, gpuIndex: slot.gpuIndex }),
        );
        if (changed) await this.options.events.jobPlaced(job);
        return changed;
      }),
    );
    return placed.filter(Boolean).length;
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
