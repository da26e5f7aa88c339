/**
 * Pure state transitions of a job. Each takes a copy of the job and the time, changes it, and says whether the
 * change happened; the scheduler persists the result with a revision check. Keeping them pure lets every rule
 * (retries, failure classes, stale attempts) be tested without NATS or timers.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { FailureClass, type Job, type JobFailure, type JobProgress, JobState } from "@ragtune/contracts/trainer";

export interface RetryPolicy {
  /** Delay before the first retry of a transient failure, ms; doubled per retry. */
  baseBackoffMs: number;
  /** Upper bound of that delay, ms. */
  maxBackoffMs: number;
  /**
   * Attempts a job may lose to a lost node before it fails for good: a job that makes every node it runs on stop
   * heartbeating (or crash) would otherwise be requeued forever. Default 3.
   */
  maxLostAttempts?: number;
}

export const DEFAULT_MAX_LOST_ATTEMPTS = 3;

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseBackoffMs: 5_000,
  maxBackoffMs: 300_000,
  maxLostAttempts: DEFAULT_MAX_LOST_ATTEMPTS,
};

export const TERMINAL_STATES = new Set([JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED]);

export function isTerminal(job: Job): boolean {
  return TERMINAL_STATES.has(job.state);
}

/** Placed on or running on a node: holds a slot there. */
export function isActive(job: Job): boolean {
  return job.state === JobState.PLACED || job.state === JobState.RUNNING;
}

export interface PlacementTarget {
  nodeId: string;
  gpuIndex?: number;
}

export function placeJob(job: Job, target: PlacementTarget): boolean {
  if (job.state !== JobState.QUEUED) return false;
  job.state = JobState.PLACED;
  job.nodeId = target.nodeId;
  job.gpuIndex = target.gpuIndex;
  return true;
}

/** The agent took the job: a new attempt begins. */
export function startAttempt(job: Job, nowMs: number): boolean {
  if (job.state !== JobState.PLACED) return false;
  job.state = JobState.RUNNING;
  job.attempt += 1;
  job.startTime = timestampFromMs(nowMs);
  job.progress = undefined;
  return true;
}

/** A report for another attempt or another node than the job's current one: it must be ignored. */
export function isStaleReport(job: Job, nodeId: string, attempt: number): boolean {
  return job.nodeId !== nodeId || job.attempt !== attempt || job.state !== JobState.RUNNING;
}

export function recordProgress(job: Job, progress: JobProgress): boolean {
  if (job.state !== JobState.RUNNING) return false;
  job.progress = progress;
  return true;
}

export function succeedJob(job: Job, adapterId: string, nowMs: number): boolean {
  if (job.state !== JobState.RUNNING) return false;
  job.state = JobState.SUCCEEDED;
  job.adapterId = adapterId;
  job.failureClass = FailureClass.UNSPECIFIED;
  job.error = "";
  job.endTime = timestampFromMs(nowMs);
  job.retryTime = undefined;
  return true;
}

export function cancelJob(job: Job, nowMs: number): boolean {
  if (isTerminal(job)) return false;
  job.state = JobState.CANCELLED;
  job.endTime = timestampFromMs(nowMs);
  return true;
}

export interface FailureContext {
  /** Total memory of the GPU the attempt ran on, By; 0 for CPU jobs. */
  gpuMemoryBytes: number;
  /** Largest GPU among registered nodes, By: an OOM job that no bigger GPU could take fails for good. */
  largestGpuMemoryBytes: number;
}

export interface FailureOutcome {
  changed: boolean;
  /** True when the job is now FAILED (no retry follows). */
  final: boolean;
}

/** Back to the queue; node_id keeps the node that last ran it, for humans. */
function requeue(job: Job) {
  job.state = JobState.QUEUED;
  job.gpuIndex = undefined;
}

function failForGood(job: Job, nowMs: number) {
  job.state = JobState.FAILED;
  job.gpuIndex = undefined;
  job.endTime = timestampFromMs(nowMs);
  job.retryTime = undefined;
}

/**
 * Applies a failed (or lost) attempt by its class:
 * - NODE_LOST: requeued at once; does not use up an attempt, but more than `maxLostAttempts` lost ones fail the job.
 * - USER_ERROR: failed at once.
 * - OUT_OF_MEMORY: requeued for GPUs larger than the one that ran out, if any is registered; uses an attempt.
 * - TRANSIENT (and anything unclassified): requeued after exponential backoff until max_attempts is used up.
 */
export function failAttempt(
  job: Job,
  failure: Pick<JobFailure, "failureClass" | "message">,
  context: FailureContext,
  nowMs: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): FailureOutcome {
  if (!isActive(job)) return { changed: false, final: false };
  const failureClass = failure.failureClass || FailureClass.TRANSIENT;
  job.failureClass = failureClass;
  job.error = failure.message;

  if (failureClass === FailureClass.NODE_LOST) {
    // A job that never started on the lost node just goes back; one that ran lost its attempt, not its budget.
    if (job.state === JobState.RUNNING) job.lostAttempts += 1;
    const maxLost = policy.maxLostAttempts ?? DEFAULT_MAX_LOST_ATTEMPTS;
    if (job.lostAttempts > maxLost) {
      job.error = `${failure.message} (node lost ${job.lostAttempts} times, more than the ${maxLost} allowed)`;
      failForGood(job, nowMs);
      return { changed: true, final: true };
    }
    job.retryTime = undefined;
    requeue(job);
    return { changed: true, final: false };
  }
  if (failureClass === FailureClass.USER_ERROR) {
    failForGood(job, nowMs);
    return { changed: true, final: true };
  }
  const counted = job.attempt - job.lostAttempts;
  if (counted >= job.maxAttempts) {
    job.error = `${failure.message} (attempt ${counted} of ${job.maxAttempts}; no attempts left)`;
    failForGood(job, nowMs);
    return { changed: true, final: true };
  }
  if (failureClass === FailureClass.OUT_OF_MEMORY) {
    job.minGpuMemoryBytes = BigInt(Math.max(Number(job.minGpuMemoryBytes), context.gpuMemoryBytes));
    if (context.largestGpuMemoryBytes <= Number(job.minGpuMemoryBytes)) {
      job.error = `${failure.message} (no registered GPU is larger than the ${(context.gpuMemoryBytes / 1024 ** 3).toFixed(1)} GiB one that ran out)`;
      failForGood(job, nowMs);
      return { changed: true, final: true };
    }
    job.retryTime = undefined;
    requeue(job);
    return { changed: true, final: false };
  }
  const delay = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** Math.max(0, counted - 1));
  job.retryTime = timestampFromMs(nowMs + delay);
  requeue(job);
  return { changed: true, final: false };
}
