/**
 * The scheduler: jobs, nodes and adapters as durable records (RecordStore, NATS KV in production), so several
 * trainer replicas share one state. It composes the parts, each in its own module:
 * - job-queue.ts: the job cache, revision-checked changes, watches; job-lifecycle.ts: the transitions themselves;
 * - job-admission.ts: checks and builds a submitted job;
 * - node-registry.ts: the agents' nodes and their liveness;
 * - placement-loop.ts (passes, lease, retry timers) over placement.ts (which job goes on which slot);
 * - agent-long-poll.ts: AcquireJob; adapter-registry.ts: the trained adapters.
 * What is left here are the flows that cross those parts: a report, a heartbeat, a lost node, a cancellation.
 */
import type { TrainingDataRef } from "@ragtune/contracts/common";
import { clone } from "@bufbuild/protobuf";
import {
  type Adapter,
  FailureClass,
  type Gpu,
  type Job,
  JobState,
  type Node,
  NodeSchema,
  NodeState,
  type ReportJobRequest,
  type SubmitJobRequest,
} from "@ragtune/contracts/trainer";
import { alreadyExists, failedPrecondition, invalidArgument, type Logger, notFound } from "@ragtune/runtime";
import type { TrainerEvents } from "../events/trainer-events.js";
import { sameSpec, withSpecDefaults } from "../spec/job-spec.js";
import type { PlacementLease } from "../store/placement-lease.js";
import type { RecordStore } from "../store/record-store.js";
import { createMemorySlotClaims, type SlotClaims } from "../store/slot-claims.js";
import { validateSubmit } from "../validation.js";
import { AdapterRegistry, adapterOf } from "./adapter-registry.js";
import { acquireJob } from "./agent-long-poll.js";
import { admitJob } from "./job-admission.js";
import {
  cancelJob,
  DEFAULT_RETRY_POLICY,
  type FailureOutcome,
  failAttempt,
  isActive,
  isStaleReport,
  isTerminal,
  type RetryPolicy,
  recordProgress,
  succeedJob,
} from "./job-lifecycle.js";
import { JobQueue, msOf } from "./job-queue.js";
import { NodeRegistry } from "./node-registry.js";
import type { PlacementStrategy } from "./placement.js";
import { PlacementLoop } from "./placement-loop.js";

export interface SchedulerStores {
  jobs: RecordStore<Job>;
  nodes: RecordStore<Node>;
  adapters: RecordStore<Adapter>;
}

export interface SchedulerOptions {
  stores: SchedulerStores;
  events: TrainerEvents;
  strategy?: PlacementStrategy;
  /** Period agents must heartbeat at, ms; a node silent for 3 periods is lost. Default 5000. */
  heartbeatIntervalMs?: number;
  retryPolicy?: RetryPolicy;
  now?: () => number;
  logger?: Logger;
  /** With several trainer replicas: only the lease holder places jobs. Unset: this replica always places. */
  lease?: PlacementLease;
  /** Slot claim records fencing each placement; shared by all replicas. Default: in this process's memory. */
  slots?: SlotClaims;
  /** Size of a training pool, read from its manifest at submission; undefined when it cannot be read here. */
  poolSize?: (ref: TrainingDataRef) => Promise<number | undefined>;
}

export class TrainerScheduler {
  private readonly jobs: JobQueue;
  private readonly nodes: NodeRegistry;
  private readonly adapters: AdapterRegistry;
  private readonly placement: PlacementLoop;
  private readonly events: TrainerEvents;
  private readonly now: () => number;
  private readonly retryPolicy: RetryPolicy;
  readonly heartbeatIntervalMs: number;
  private readonly stops: (() => void)[] = [];

  constructor(private readonly options: SchedulerOptions) {
    const clock = options.now ?? Date.now;
    // Timestamps hold whole nanoseconds; a fractional-ms clock (a simulation) must not make records invalid.
    this.now = () => Math.round(clock());
    this.retryPolicy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5000;
    this.events = options.events;
    this.jobs = new JobQueue(options.stores.jobs, () => void this.requestSchedule());
    this.nodes = new NodeRegistry(options.stores.nodes, this.heartbeatIntervalMs, this.now);
    this.adapters = new AdapterRegistry(options.stores.adapters);
    this.placement = new PlacementLoop({
      jobs: this.jobs,
      nodes: this.nodes,
      events: this.events,
      strategy: options.strategy ?? "best-fit",
      now: this.now,
      lease: options.lease,
      slots: options.slots ?? createMemorySlotClaims(),
      holdsSlotAfterEnd: (job) => this.awaitsProcessExit(job),
      onError: (what, error) => this.logError(what, error),
    });
  }

  /** Loads the stored state, follows other replicas' writes and, with `timers`, runs liveness checks. */
  async start({ timers = true }: { timers?: boolean } = {}): Promise<void> {
    this.nodes.startGracePeriod(this.now());
    this.stops.push(await this.jobs.follow());
    this.stops.push(await this.nodes.follow());
    await this.jobs.load();
    await this.nodes.load();
    if (timers) {
      const timer = setInterval(
        () => void this.checkLiveness().catch((e) => this.logError("liveness", e)),
        this.heartbeatIntervalMs,
      );
      timer.unref();
      this.stops.push(() => clearInterval(timer));
    }
    await this.requestSchedule();
  }

  async stop(): Promise<void> {
    for (const stop of this.stops.splice(0)) stop();
    await this.placement.stop();
  }

  /** Runs a placement pass now, or once more after the one in flight. Resolves when placement is done. */
  requestSchedule(): Promise<void> {
    return this.placement.request();
  }

  // ---- jobs --------------------------------------------------------------------------------------------------

  async submit(request: SubmitJobRequest): Promise<{ job: Job; created: boolean }> {
    const spec = withSpecDefaults(request.spec);
    validateSubmit(request, spec);
    const existing = await this.jobs.find(request.jobId);
    if (existing) return this.resubmitted(existing, request);
    const { poolSize, logger } = this.options;
    const admitted = await admitJob({ nodes: this.nodes, poolSize, logger }, request, spec, this.now());
    const { job, created } = await this.jobs.create(admitted);
    if (!created) return this.resubmitted(job, request);
    await this.events.jobQueued(job);
    await this.requestSchedule();
    return { job: (await this.jobs.find(job.jobId)) ?? job, created: true };
  }

  private resubmitted(existing: Job, request: SubmitJobRequest): { job: Job; created: boolean } {
    const spec = withSpecDefaults(request.spec);
    if (existing.spec && sameSpec(existing.spec, spec)) return { job: existing, created: false };
    throw alreadyExists("job", existing.jobId, "already exists with another spec");
  }

  getJob(jobId: string): Job {
    return this.jobs.get(jobId);
  }

  /** Newest first; the page token is the offset. */
  listJobs(states: JobState[], pageSize: number, pageToken: string): { jobs: Job[]; nextPageToken: string } {
    return this.jobs.list(states, pageSize, pageToken);
  }

  async cancel(jobId: string): Promise<Job> {
    const current = await this.jobs.find(jobId);
    if (!current) throw notFound("job", jobId);
    if (isTerminal(current)) {
      throw failedPrecondition(`job "${jobId}" already ended (${JobState[current.state]})`);
    }
    const { job, changed } = await this.jobs.mutate(jobId, (j) => cancelJob(j, this.now()));
    if (!changed) throw failedPrecondition(`job "${jobId}" already ended (${JobState[job.state]})`);
    await this.events.jobCancelled(job);
    // A placed job's slot is free again; a running one's once its agent confirms the process exited (heartbeat).
    await this.requestSchedule();
    return job;
  }

  /** The job's current state, then every change until it ends (or `signal` aborts). */
  watchJob(jobId: string, signal?: AbortSignal): AsyncGenerator<Job> {
    return this.jobs.watch(jobId, signal);
  }

  // ---- nodes -------------------------------------------------------------------------------------------------

  async registerNode(offered: Node): Promise<Node> {
    const node = this.nodes.registered(offered, this.now());
    const stillRunning = new Set([...node.runningJobIds, node.runningJobId].filter(Boolean));
    // The agent restarted without the jobs it had: those attempts are lost, the jobs go back to the queue.
    for (const job of this.jobs.activeOn(node.nodeId)) {
      if (job.state === JobState.RUNNING && !stillRunning.has(job.jobId)) {
        await this.failJob(job.jobId, FailureClass.NODE_LOST, `node ${node.nodeId} restarted without the job`);
      }
    }
    node.agentRunningJobIds = [...stillRunning];
    this.describeRunning(node);
    await this.nodes.save(node);
    await this.events.nodeRegistered(node);
    await this.requestSchedule();
    return node;
  }

  /** Returns the ids of jobs the agent must stop. */
  async heartbeat(nodeId: string, gpus: Gpu[], runningJobIds: string[]): Promise<string[]> {
    const { node, wasLost } = this.nodes.heartbeat(nodeId, gpus, this.now());
    const running = new Set(runningJobIds.filter(Boolean));
    const cancel = [...running].filter((id) => {
      const job = this.jobs.cached(id);
      return !job || !isActive(job) || job.nodeId !== nodeId;
    });
    // A job started here a while ago that the agent does not run: the acquire answer never reached it.
    const graceMs = 2 * this.heartbeatIntervalMs;
    for (const job of this.jobs.activeOn(nodeId)) {
      if (job.state !== JobState.RUNNING || running.has(job.jobId)) continue;
      if (this.now() - msOf(job.startTime) > graceMs) {
        await this.failJob(job.jobId, FailureClass.NODE_LOST, `node ${nodeId} is not running the job`);
      }
    }
    // A cancelled job the agent no longer lists has exited: its slot is free now.
    const exited = node.agentRunningJobIds.some((id) => !running.has(id));
    node.agentRunningJobIds = [...running];
    this.describeRunning(node);
    await this.nodes.save(node);
    if (wasLost || exited) await this.requestSchedule();
    return cancel;
  }

  /**
   * A job cancelled while it ran keeps its slot until its agent stops listing it: the agent lists a job until it
   * has seen its process (and the process group) exit, so a GPU is never handed on while the old run holds it.
   */
  private awaitsProcessExit(job: Job): boolean {
    if (job.state !== JobState.CANCELLED || !job.nodeId) return false;
    const node = this.nodes.get(job.nodeId);
    return node !== undefined && node.state !== NodeState.LOST && node.agentRunningJobIds.includes(job.jobId);
  }

  listNodes(): Node[] {
    return this.nodes
      .all()
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId))
      .map((node) => this.describeRunning(clone(NodeSchema, node)));
  }

  private describeRunning(node: Node): Node {
    node.runningJobIds = this.jobs.activeOn(node.nodeId).map((j) => j.jobId);
    node.runningJobId = node.runningJobIds[0] ?? "";
    return node;
  }

  /** Marks nodes silent for 3 heartbeat periods as lost and requeues their jobs. */
  async checkLiveness(): Promise<string[]> {
    const lost: string[] = [];
    for (const value of this.nodes.all()) {
      if (!this.nodes.isSilent(value, this.now())) continue;
      // Lost first, so the requeued jobs are not placed straight back on it.
      const node = await this.nodes.markLost(value);
      if (!node) continue; // it heartbeated through another replica meanwhile
      const requeued: string[] = [];
      for (const job of this.jobs.activeOn(node.nodeId)) {
        await this.failJob(job.jobId, FailureClass.NODE_LOST, `node ${node.nodeId} stopped heartbeating`);
        requeued.push(job.jobId);
      }
      await this.events.nodeLost(node.nodeId, requeued[0] ?? "");
      lost.push(node.nodeId);
    }
    if (lost.length) await this.requestSchedule();
    return lost;
  }

  // ---- agents' side ------------------------------------------------------------------------------------------

  /** Hands the agent its next placed job (starting a new attempt), waiting up to `waitMs` for one. */
  acquire(nodeId: string, waitMs: number, signal?: AbortSignal): Promise<Job | undefined> {
    return acquireJob(
      { jobs: this.jobs, nodes: this.nodes, events: this.events, now: this.now },
      nodeId,
      waitMs,
      signal,
    );
  }

  /** Applies an agent's report; returns true when the agent must stop the job. */
  async report(request: ReportJobRequest): Promise<boolean> {
    const job = await this.jobs.find(request.jobId);
    if (!job) throw notFound("job", request.jobId);
    const sameAttempt = job.nodeId === request.nodeId && job.attempt === request.attempt;
    // A repeated success report (the agent did not see our answer) is acknowledged, not re-applied.
    if (sameAttempt && job.state === JobState.SUCCEEDED && request.report.case === "succeeded") return false;
    if (isStaleReport(job, request.nodeId, request.attempt)) return true;
    const current = (j: Job) => !isStaleReport(j, request.nodeId, request.attempt);

    const report = request.report;
    switch (report.case) {
      case "progress": {
        const { job: updated, changed } = await this.jobs.mutate(
          job.jobId,
          (j) => current(j) && recordProgress(j, report.value),
        );
        if (changed) await this.events.jobProgress(updated, report.value);
        return !changed && updated.state !== JobState.RUNNING;
      }
      case "succeeded": {
        const adapter = adapterOf(job, report.value, this.now());
        // The adapter record first: a crash between the two writes leaves an adapter of a RUNNING job, which the
        // agent's retried report completes; the other order could leave a SUCCEEDED job without its adapter.
        await this.adapters.save(adapter);
        const { job: updated, changed } = await this.jobs.mutate(
          job.jobId,
          (j) => current(j) && succeedJob(j, adapter.adapterId, this.now()),
        );
        if (!changed) return updated.state !== JobState.SUCCEEDED;
        await this.events.jobSucceeded(updated);
        await this.events.adapterPublished(adapter);
        await this.requestSchedule();
        return false;
      }
      case "failed": {
        const outcome = await this.failJob(job.jobId, report.value.failureClass, report.value.message, current);
        return !outcome.changed;
      }
      default:
        throw invalidArgument("report", "is required (progress, succeeded or failed)");
    }
  }

  /** Applies a failed (or lost) attempt; a job that will be retried is announced as queued again. */
  private async failJob(
    jobId: string,
    failureClass: FailureClass,
    message: string,
    guard: (job: Job) => boolean = () => true,
  ): Promise<FailureOutcome> {
    let outcome: FailureOutcome = { changed: false, final: false };
    const { job, changed } = await this.jobs.mutate(jobId, (j) => {
      if (!guard(j)) return false;
      const gpu = this.nodes.gpu(j.nodeId, j.gpuIndex);
      outcome = failAttempt(
        j,
        { failureClass, message },
        { gpuMemoryBytes: Number(gpu?.memoryTotalBytes ?? 0), largestGpuMemoryBytes: this.nodes.largestGpuBytes() },
        this.now(),
        this.retryPolicy,
      );
      return outcome.changed;
    });
    if (!changed) return outcome;
    await this.events.jobFailed(job, outcome.final);
    if (!outcome.final) {
      await this.events.jobQueued(job);
      await this.requestSchedule();
    }
    return outcome;
  }

  // ---- adapters ----------------------------------------------------------------------------------------------

  listAdapters(baseModel: string): Promise<Adapter[]> {
    return this.adapters.list(baseModel);
  }

  getAdapter(adapterId: string): Promise<Adapter> {
    return this.adapters.get(adapterId);
  }

  private logError(what: string, error: unknown) {
    this.options.logger?.error(`${what} failed`, { error: String(error) });
  }
}
