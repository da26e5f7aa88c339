/**
 * The scheduler: jobs and nodes as durable records (RecordStore, NATS KV in production) with an in-memory cache
 * kept current by the store's watch, so several trainer replicas see each other's transitions. Every transition
 * is a pure function from job-lifecycle applied with a revision check; a conflict re-reads and retries.
 */
import { clone, create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { TrainingDataRef } from "@ragtune/contracts/common";
import {
  type Adapter,
  AdapterSchema,
  FailureClass,
  type Gpu,
  type Job,
  JobSchema,
  JobState,
  type Node,
  NodeSchema,
  NodeState,
  type ReportJobRequest,
  type SubmitJobRequest,
} from "@ragtune/contracts/trainer";
import {
  alreadyExists,
  failedPrecondition,
  injectTraceContext,
  invalidArgument,
  type Logger,
  notFound,
  unavailable,
  waitForWake,
} from "@ragtune/runtime";
import { CPU_JOB_HOST_BYTES, estimateTrainingMemory, formatBytes } from "../estimate/memory-estimate.js";
import type { TrainerEvents } from "../events/trainer-events.js";
import { ManifestError } from "@ragtune/datasets";
import { effectiveBatchSize, needsGpu, resolveExecutor, sameSpec, withSpecDefaults } from "../spec/job-spec.js";
import type { PlacementLease } from "../store/placement-lease.js";
import { type RecordStore, RevisionConflictError, type Versioned } from "../store/record-store.js";
import { validateAgainstPoolSize, validateSubmit } from "../validation.js";
import {
  cancelJob,
  DEFAULT_RETRY_POLICY,
  type FailureOutcome,
  failAttempt,
  isActive,
  isStaleReport,
  isTerminal,
  placeJob,
  type RetryPolicy,
  recordProgress,
  startAttempt,
  succeedJob,
} from "./job-lifecycle.js";
import { freeSlots, type PlacementRequest, type PlacementStrategy, planPlacements, slotKey } from "./placement.js";

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
  /** Size of a training pool, read from its manifest at submission; undefined when it cannot be read here. */
  poolSize?: (ref: TrainingDataRef) => Promise<number | undefined>;
}

const DEFAULT_MAX_ATTEMPTS = 3;
const CAS_RETRIES = 8;

type JobListener = (job: Job) => void;

export class TrainerScheduler {
  private readonly jobs = new Map<string, Versioned<Job>>();
  private readonly nodes = new Map<string, Versioned<Node>>();
  private readonly listeners = new Set<JobListener>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly now: () => number;
  private readonly strategy: PlacementStrategy;
  private readonly retryPolicy: RetryPolicy;
  readonly heartbeatIntervalMs: number;
  private readonly stops: (() => void)[] = [];
  private scheduling?: Promise<void>;
  private rerun = false;
  private retryTimer?: NodeJS.Timeout;
  /** Nodes get a full grace period after this scheduler starts, however old their last stored heartbeat. */
  private startedAtMs = 0;
  /** When each node last called in, whether or not that could be stored: a NATS outage must not make nodes lost. */
  private readonly lastSeenMs = new Map<string, number>();

  constructor(private readonly options: SchedulerOptions) {
    const clock = options.now ?? Date.now;
    // Timestamps hold whole nanoseconds; a fractional-ms clock (a simulation) must not make records invalid.
    this.now = () => Math.round(clock());
    this.strategy = options.strategy ?? "best-fit";
    this.retryPolicy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5000;
  }

  /** Loads the stored state, follows other replicas' writes and, with `timers`, runs liveness checks. */
  async start({ timers = true }: { timers?: boolean } = {}): Promise<void> {
    this.startedAtMs = this.now();
    const { stores } = this.options;
    this.stops.push(await stores.jobs.watch((_key, record) => this.applyJob(record)));
    this.stops.push(await stores.nodes.watch((_key, record) => this.applyNode(record)));
    for (const record of await stores.jobs.list()) this.applyJob(record);
    for (const record of await stores.nodes.list()) this.applyNode(record);
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
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.scheduling;
    await this.options.lease?.release().catch((error) => this.logError("lease release", error));
  }

  // ---- cache -------------------------------------------------------------------------------------------------

  private applyJob(record: Versioned<Job>) {
    const cached = this.jobs.get(record.value.jobId);
    if (cached && cached.revision >= record.revision) return;
    this.jobs.set(record.value.jobId, record);
    for (const listener of this.listeners) listener(record.value);
    if (record.value.state === JobState.QUEUED) void this.requestSchedule();
  }

  private applyNode(record: Versioned<Node>) {
    const cached = this.nodes.get(record.value.nodeId);
    if (cached && cached.revision >= record.revision) return;
    this.nodes.set(record.value.nodeId, record);
  }

  private async withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => {});
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return next;
  }

  /** Applies `change` to the newest job record with a revision check; returns the job and whether it changed. */
  private mutateJob(jobId: string, change: (job: Job) => boolean): Promise<{ job: Job; changed: boolean }> {
    return this.withLock(`job/${jobId}`, async () => {
      for (let attempt = 0; attempt < CAS_RETRIES; attempt++) {
        const current = this.jobs.get(jobId) ?? (await this.reloadJob(jobId));
        if (!current) throw notFound("job", jobId);
        const next = clone(JobSchema, current.value);
        if (!change(next)) return { job: current.value, changed: false };
        try {
          const revision = await this.options.stores.jobs.update(jobId, next, current.revision);
          this.applyJob({ value: next, revision });
          return { job: next, changed: true };
        } catch (error) {
          if (!(error instanceof RevisionConflictError)) throw error;
          await this.reloadJob(jobId);
        }
      }
      throw unavailable(`job "${jobId}" kept changing concurrently; try again`);
    });
  }

  private async reloadJob(jobId: string): Promise<Versioned<Job> | undefined> {
    const record = await this.options.stores.jobs.get(jobId);
    if (record) this.applyJob(record);
    return this.jobs.get(jobId);
  }

  private async saveNode(node: Node): Promise<Node> {
    const revision = await this.options.stores.nodes.put(node.nodeId, node);
    this.applyNode({ value: node, revision });
    return node;
  }

  // ---- jobs --------------------------------------------------------------------------------------------------

  async submit(request: SubmitJobRequest): Promise<{ job: Job; created: boolean }> {
    const spec = withSpecDefaults(request.spec);
    validateSubmit(request, spec);
    const existing = this.jobs.get(request.jobId) ?? (await this.reloadJob(request.jobId));
    if (existing) return this.resubmitted(existing.value, request);

    const executor = resolveExecutor(spec);
    let estimatedBytes = CPU_JOB_HOST_BYTES;
    if (needsGpu(executor)) {
      const estimate = estimateTrainingMemory({
        baseModel: spec.baseModel,
        method: spec.method,
        loraRank: spec.loraRank,
        targetModules: spec.targetModules,
        maxSeqLength: spec.maxSeqLength,
        microBatchSize: spec.microBatchSize,
      });
      if (!estimate) {
        throw invalidArgument(
          "spec.base_model",
          `cannot tell the size of "${spec.baseModel}"; use a known model id or a name that states it (e.g. "-7b")`,
        );
      }
      estimatedBytes = estimate.totalBytes;
    }
    if (spec.trainingData && this.options.poolSize) {
      let poolSize: number | undefined;
      try {
        poolSize = await this.options.poolSize(spec.trainingData);
      } catch (error) {
        if (error instanceof ManifestError) throw invalidArgument("spec.training_data", error.message);
        this.options.logger?.warn("manifest not readable at submission", { error: String(error) });
      }
      if (poolSize !== undefined) validateAgainstPoolSize(spec, poolSize);
    }
    if (needsGpu(executor)) this.checkSomeGpuFits(estimatedBytes, spec.baseModel);

    const job = create(JobSchema, {
      jobId: request.jobId,
      spec,
      priority: request.priority,
      state: JobState.QUEUED,
      maxAttempts: request.maxAttempts || DEFAULT_MAX_ATTEMPTS,
      estimatedMemoryBytes: BigInt(estimatedBytes),
      effectiveBatchSize: effectiveBatchSize(spec),
      createTime: timestampFromMs(this.now()),
    });
    // The submitter's trace travels with the job, so the agent's training joins it across the queue.
    injectTraceContext((key, value) => {
      job.traceContext[key] = value;
    });
    try {
      const revision = await this.options.stores.jobs.create(job.jobId, job);
      this.applyJob({ value: job, revision });
    } catch (error) {
      if (!(error instanceof RevisionConflictError)) throw error;
      const raced = await this.reloadJob(job.jobId);
      if (!raced) throw error;
      return this.resubmitted(raced.value, request);
    }
    await this.options.events.jobQueued(job);
    await this.requestSchedule();
    return { job: this.jobs.get(job.jobId)?.value ?? job, created: true };
  }

  private resubmitted(existing: Job, request: SubmitJobRequest): { job: Job; created: boolean } {
    const spec = withSpecDefaults(request.spec);
    if (existing.spec && sameSpec(existing.spec, spec)) return { job: existing, created: false };
    throw alreadyExists("job", existing.jobId, "already exists with another spec");
  }

  /** FAILED_PRECONDITION when GPU nodes are registered and none has a GPU that holds the estimate. */
  private checkSomeGpuFits(estimatedBytes: number, baseModel: string) {
    let largest: { nodeId: string; gpu: Gpu } | undefined;
    for (const { value: node } of this.nodes.values()) {
      if (node.state === NodeState.LOST || !node.executors.includes("peft")) continue;
      for (const gpu of node.gpus) {
        if (!largest || gpu.memoryTotalBytes > largest.gpu.memoryTotalBytes) largest = { nodeId: node.nodeId, gpu };
      }
    }
    // With no GPU node registered yet the job waits for one; agents may start after the submitter.
    if (!largest || Number(largest.gpu.memoryTotalBytes) >= estimatedBytes) return;
    throw failedPrecondition(
      `job needs an estimated ${formatBytes(estimatedBytes)} of GPU memory for ${baseModel}, but the largest ` +
        `registered GPU has ${formatBytes(Number(largest.gpu.memoryTotalBytes))} (GPU ${largest.gpu.index}` +
        `${largest.gpu.name ? ` "${largest.gpu.name}"` : ""} on node ${largest.nodeId})`,
    );
  }

  getJob(jobId: string): Job {
    const record = this.jobs.get(jobId);
    if (!record) throw notFound("job", jobId);
    return record.value;
  }

  /** Newest first; the page token is the offset. */
  listJobs(states: JobState[], pageSize: number, pageToken: string): { jobs: Job[]; nextPageToken: string } {
    const wanted = new Set(states);
    const all = [...this.jobs.values()]
      .map((r) => r.value)
      .filter((job) => wanted.size === 0 || wanted.has(job.state))
      .sort((a, b) => msOf(b.createTime) - msOf(a.createTime) || a.jobId.localeCompare(b.jobId));
    const offset = Number(pageToken || 0);
    const size = pageSize || 100;
    const jobs = all.slice(offset, offset + size);
    return { jobs, nextPageToken: offset + size < all.length ? String(offset + size) : "" };
  }

  async cancel(jobId: string): Promise<Job> {
    const current = this.jobs.get(jobId) ?? (await this.reloadJob(jobId));
    if (!current) throw notFound("job", jobId);
    if (isTerminal(current.value)) {
      throw failedPrecondition(`job "${jobId}" already ended (${JobState[current.value.state]})`);
    }
    const { job, changed } = await this.mutateJob(jobId, (j) => cancelJob(j, this.now()));
    if (!changed) throw failedPrecondition(`job "${jobId}" already ended (${JobState[job.state]})`);
    await this.options.events.jobCancelled(job);
    // Its slot is free again.
    await this.requestSchedule();
    return job;
  }

  /** The job's current state, then every change until it ends (or `signal` aborts). */
  async *watchJob(jobId: string, signal?: AbortSignal): AsyncGenerator<Job> {
    const queue: Job[] = [];
    let wake: (() => void) | undefined;
    const listener: JobListener = (job) => {
      if (job.jobId !== jobId) return;
      queue.push(job);
      wake?.();
    };
    this.listeners.add(listener);
    try {
      const first = this.getJob(jobId);
      yield first;
      if (isTerminal(first)) return;
      while (!signal?.aborted) {
        if (queue.length === 0) {
          await waitForWake(signal, (woken) => {
            wake = woken;
          });
          wake = undefined;
        }
        while (queue.length) {
          const job = queue.shift() as Job;
          yield job;
          if (isTerminal(job)) return;
        }
      }
    } finally {
      this.listeners.delete(listener);
    }
  }

  // ---- nodes -------------------------------------------------------------------------------------------------

  async registerNode(offered: Node): Promise<Node> {
    const node = clone(NodeSchema, offered);
    node.state = NodeState.READY;
    node.lastHeartbeatTime = timestampFromMs(this.now());
    this.lastSeenMs.set(node.nodeId, this.now());
    const stillRunning = new Set([...node.runningJobIds, node.runningJobId].filter(Boolean));
    // The agent restarted without the jobs it had: those attempts are lost, the jobs go back to the queue.
    for (const job of this.activeJobsOn(node.nodeId)) {
      if (job.state === JobState.RUNNING && !stillRunning.has(job.jobId)) {
        await this.failJob(job.jobId, FailureClass.NODE_LOST, `node ${node.nodeId} restarted without the job`);
      }
    }
    this.describeRunning(node);
    await this.saveNode(node);
    await this.options.events.nodeRegistered(node);
    await this.requestSchedule();
    return node;
  }

  /** Returns the ids of jobs the agent must stop. */
  async heartbeat(nodeId: string, gpus: Gpu[], runningJobIds: string[]): Promise<string[]> {
    const record = this.nodes.get(nodeId);
    if (!record) throw notFound("node", nodeId);
    this.lastSeenMs.set(nodeId, this.now());
    const node = clone(NodeSchema, record.value);
    const wasLost = node.state === NodeState.LOST;
    node.state = NodeState.READY;
    node.lastHeartbeatTime = timestampFromMs(this.now());
    for (const reported of gpus) {
      const gpu = node.gpus.find((g) => g.index === reported.index);
      if (gpu) gpu.memoryFreeBytes = reported.memoryFreeBytes;
    }
    const running = new Set(runningJobIds.filter(Boolean));
    const cancel = [...running].filter((id) => {
      const job = this.jobs.get(id)?.value;
      return !job || !isActive(job) || job.nodeId !== nodeId;
    });
    // A job started here a while ago that the agent does not run: the acquire answer never reached it.
    const graceMs = 2 * this.heartbeatIntervalMs;
    for (const job of this.activeJobsOn(nodeId)) {
      if (job.state !== JobState.RUNNING || running.has(job.jobId)) continue;
      if (this.now() - msOf(job.startTime) > graceMs) {
        await this.failJob(job.jobId, FailureClass.NODE_LOST, `node ${nodeId} is not running the job`);
      }
    }
    this.describeRunning(node);
    await this.saveNode(node);
    if (wasLost) await this.requestSchedule();
    return cancel;
  }

  listNodes(): Node[] {
    return [...this.nodes.values()]
      .map((r) => r.value)
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId))
      .map((node) => this.describeRunning(clone(NodeSchema, node)));
  }

  private describeRunning(node: Node): Node {
    node.runningJobIds = this.activeJobsOn(node.nodeId).map((j) => j.jobId);
    node.runningJobId = node.runningJobIds[0] ?? "";
    return node;
  }

  private activeJobsOn(nodeId: string): Job[] {
    const found: Job[] = [];
    for (const { value } of this.jobs.values()) if (isActive(value) && value.nodeId === nodeId) found.push(value);
    return found;
  }

  /** Marks nodes silent for 3 heartbeat periods as lost and requeues their jobs. */
  async checkLiveness(): Promise<string[]> {
    const limitMs = 3 * this.heartbeatIntervalMs;
    const lost: string[] = [];
    for (const { value } of [...this.nodes.values()]) {
      if (value.state === NodeState.LOST) continue;
      const last = Math.max(msOf(value.lastHeartbeatTime), this.startedAtMs, this.lastSeenMs.get(value.nodeId) ?? 0);
      if (this.now() - last <= limitMs) continue;
      const node = clone(NodeSchema, value);
      node.state = NodeState.LOST;
      // Lost first, so the requeued jobs are not placed straight back on it.
      await this.saveNode(node);
      const requeued: string[] = [];
      for (const job of this.activeJobsOn(node.nodeId)) {
        await this.failJob(job.jobId, FailureClass.NODE_LOST, `node ${node.nodeId} stopped heartbeating`);
        requeued.push(job.jobId);
      }
      await this.options.events.nodeLost(node.nodeId, requeued[0] ?? "");
      lost.push(node.nodeId);
    }
    if (lost.length) await this.requestSchedule();
    return lost;
  }

  // ---- agents' side ------------------------------------------------------------------------------------------

  /** Hands the agent its next placed job (starting a new attempt), waiting up to `waitMs` for one. */
  async acquire(nodeId: string, waitMs: number, signal?: AbortSignal): Promise<Job | undefined> {
    if (!this.nodes.has(nodeId)) throw notFound("node", nodeId);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const placed = this.activeJobsOn(nodeId)
        .filter((j) => j.state === JobState.PLACED)
        .sort(byPriority);
      for (const candidate of placed) {
        const { job, changed } = await this.mutateJob(
          candidate.jobId,
          (j) => j.nodeId === nodeId && startAttempt(j, this.now()),
        );
        if (changed) {
          await this.options.events.jobStarted(job);
          return job;
        }
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal?.aborted) return undefined;
      await this.waitForJob((job) => job.nodeId === nodeId && job.state === JobState.PLACED, remaining, signal);
    }
  }

  private waitForJob(match: (job: Job) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const listener: JobListener = (job) => {
        if (match(job)) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.listeners.add(listener);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Applies an agent's report; returns true when the agent must stop the job. */
  async report(request: ReportJobRequest): Promise<boolean> {
    const current = this.jobs.get(request.jobId) ?? (await this.reloadJob(request.jobId));
    if (!current) throw notFound("job", request.jobId);
    const job = current.value;
    const sameAttempt = job.nodeId === request.nodeId && job.attempt === request.attempt;
    // A repeated success report (the agent did not see our answer) is acknowledged, not re-applied.
    if (sameAttempt && job.state === JobState.SUCCEEDED && request.report.case === "succeeded") return false;
    if (isStaleReport(job, request.nodeId, request.attempt)) return true;

    const report = request.report;
    switch (report.case) {
      case "progress": {
        const { job: updated, changed } = await this.mutateJob(
          job.jobId,
          (j) => !isStaleReport(j, request.nodeId, request.attempt) && recordProgress(j, report.value),
        );
        if (changed) await this.options.events.jobProgress(updated, report.value);
        return !changed && updated.state !== JobState.RUNNING;
      }
      case "succeeded": {
        const upload = report.value;
        const adapter = create(AdapterSchema, {
          adapterId: job.jobId,
          baseModel: job.spec?.baseModel ?? "",
          spec: job.spec,
          jobId: job.jobId,
          uri: upload.uri,
          sha256: upload.sha256,
          sizeBytes: upload.sizeBytes,
          metrics: upload.metrics,
          trainingDataSha256: upload.trainingDataSha256 || job.spec?.trainingData?.manifestSha256 || "",
          createTime: timestampFromMs(this.now()),
        });
        // The adapter record first: a crash between the two writes leaves an adapter of a RUNNING job, which the
        // agent's retried report completes; the other order could leave a SUCCEEDED job without its adapter.
        await this.options.stores.adapters.put(adapter.adapterId, adapter);
        const { job: updated, changed } = await this.mutateJob(
          job.jobId,
          (j) => !isStaleReport(j, request.nodeId, request.attempt) && succeedJob(j, adapter.adapterId, this.now()),
        );
        if (!changed) return updated.state !== JobState.SUCCEEDED;
        await this.options.events.jobSucceeded(updated);
        await this.options.events.adapterPublished(adapter);
        await this.requestSchedule();
        return false;
      }
      case "failed": {
        const outcome = await this.failJob(
          job.jobId,
          report.value.failureClass,
          report.value.message,
          (j) => !isStaleReport(j, request.nodeId, request.attempt),
        );
        return !outcome.changed;
      }
      default:
        throw invalidArgument("report", "is required (progress, succeeded or failed)");
    }
  }

  private async failJob(
    jobId: string,
    failureClass: FailureClass,
    message: string,
    guard: (job: Job) => boolean = () => true,
  ): Promise<FailureOutcome> {
    let outcome: FailureOutcome = { changed: false, final: false };
    const { job, changed } = await this.mutateJob(jobId, (j) => {
      if (!guard(j)) return false;
      const gpu = this.nodes.get(j.nodeId)?.value.gpus.find((g) => g.index === j.gpuIndex);
      outcome = failAttempt(
        j,
        { failureClass, message },
        { gpuMemoryBytes: Number(gpu?.memoryTotalBytes ?? 0), largestGpuMemoryBytes: this.largestGpuBytes() },
        this.now(),
        this.retryPolicy,
      );
      return outcome.changed;
    });
    if (!changed) return outcome;
    await this.options.events.jobFailed(job, outcome.final);
    if (!outcome.final) {
      await this.options.events.jobQueued(job);
      await this.requestSchedule();
    }
    return outcome;
  }

  private largestGpuBytes(): number {
    let largest = 0;
    for (const { value } of this.nodes.values()) {
      if (value.state === NodeState.LOST) continue;
      for (const gpu of value.gpus) largest = Math.max(largest, Number(gpu.memoryTotalBytes));
    }
    return largest;
  }

  // ---- placement ---------------------------------------------------------------------------------------------

  /** Runs a placement pass now, or once more after the one in flight. Resolves when placement is done. */
  requestSchedule(): Promise<void> {
    if (this.scheduling) {
      this.rerun = true;
      return this.scheduling;
    }
    this.scheduling = (async () => {
      do {
        this.rerun = false;
        try {
          await this.schedulePass();
        } catch (error) {
          this.logError("placement pass", error);
        }
      } while (this.rerun);
    })().finally(() => {
      this.scheduling = undefined;
    });
    return this.scheduling;
  }

  private async schedulePass(): Promise<number> {
    if (this.options.lease) {
      const claim = await this.options.lease.claim();
      if (claim === "held-elsewhere") {
        // The holder places; try again once its lease could have lapsed (it may have died).
        this.armRetryTimer(this.options.lease.ttlMs);
        return 0;
      }
      // Taking over from another replica: its last placements may not have reached our cache yet.
      if (claim === "acquired") for (const record of await this.options.stores.jobs.list()) this.applyJob(record);
    }
    const now = this.now();
    const occupied = new Set<string>();
    const waiting: Job[] = [];
    let nextRetryMs = Number.POSITIVE_INFINITY;
    for (const { value: job } of this.jobs.values()) {
      if (isActive(job)) occupied.add(slotKey(job.nodeId, job.gpuIndex));
      else if (job.state === JobState.QUEUED) {
        const retryAt = job.retryTime ? timestampMs(job.retryTime) : 0;
        if (retryAt <= now) waiting.push(job);
        else nextRetryMs = Math.min(nextRetryMs, retryAt);
      }
    }
    this.armRetryTimer(nextRetryMs - now);
    if (waiting.length === 0) return 0;
    const slots = freeSlots(
      [...this.nodes.values()].map((r) => r.value),
      occupied,
    );
    if (slots.length === 0) return 0;
    const requests: PlacementRequest[] = waiting.sort(byPriority).map((job) => {
      const executor = resolveExecutor(job.spec ?? withSpecDefaults(undefined));
      return {
        jobId: job.jobId,
        executor,
        needsGpu: needsGpu(executor),
        estimatedBytes: Number(job.estimatedMemoryBytes),
        minGpuMemoryBytes: Number(job.minGpuMemoryBytes),
      };
    });
    const placements = planPlacements(requests, slots, this.strategy);
    const placed = await Promise.all(
      placements.map(async ({ jobId, slot }) => {
        const { job, changed } = await this.mutateJob(jobId, (j) =>
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
    this.retryTimer = setTimeout(() => void this.requestSchedule(), Math.max(0, delayMs) + 5);
    this.retryTimer.unref();
  }

  // ---- adapters ----------------------------------------------------------------------------------------------

  async listAdapters(baseModel: string): Promise<Adapter[]> {
    const all = (await this.options.stores.adapters.list()).map((r) => r.value);
    return all
      .filter((a) => !baseModel || a.baseModel === baseModel)
      .sort((a, b) => msOf(b.createTime) - msOf(a.createTime) || a.adapterId.localeCompare(b.adapterId));
  }

  async getAdapter(adapterId: string): Promise<Adapter> {
    const record = await this.options.stores.adapters.get(adapterId);
    if (!record) throw notFound("adapter", adapterId);
    return record.value;
  }

  private logError(what: string, error: unknown) {
    this.options.logger?.error(`${what} failed`, { error: String(error) });
  }
}

function msOf(timestamp: Parameters<typeof timestampMs>[0] | undefined): number {
  return timestamp ? timestampMs(timestamp) : 0;
}

/** Higher priority first, then older first. */
function byPriority(a: Job, b: Job): number {
  return b.priority - a.priority || msOf(a.createTime) - msOf(b.createTime) || a.jobId.localeCompare(b.jobId);
}
