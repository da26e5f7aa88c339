/**
 * A node agent: registers the machine's GPUs and executors, heartbeats, long-polls for placed jobs, runs each in
 * its executor, streams progress, uploads the adapter and reports the outcome. Reports that decide a job's fate
 * (success, failure) are retried until the trainer answers, so a trainer or NATS restart loses no result.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import {
  FailureClass,
  type Gpu,
  type Job,
  type JobProgress,
  JobProgressSchema,
  NodeSchema,
  type ReportJobRequest,
  ReportJobRequestSchema,
  type TrainerService,
} from "@ragtune/contracts/trainer";
import { type Logger, recordSpanFailure, type Span, withSpan, withTraceContext } from "@ragtune/runtime";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import type { ObjectReader } from "@ragtune/datasets";
import { archiveDirectory, type AdapterStorage } from "@ragtune/adapter-archive";
import { AgentStopping, type Executor, ExecutorFailure } from "./executors/executor.js";
import { loadTrainingPairs } from "./training-pairs.js";

export interface NodeAgentOptions {
  client: Client<typeof TrainerService>;
  nodeId?: string;
  executors: Executor[];
  /** Probed at start (and for each heartbeat's free memory); default: none (CPU-only). */
  probeGpus?: () => Promise<Gpu[]>;
  storage: AdapterStorage;
  readObject?: ObjectReader;
  /** Long-poll per AcquireJob call, s. Default 20. */
  acquireWaitSeconds?: number;
  /** Shortest gap between progress reports, ms. Default 1000. */
  progressIntervalMs?: number;
  workRoot?: string;
  /** How long an adapter upload is retried, ms. Default 120000. */
  uploadRetryMs?: number;
  logger?: Logger;
}

interface RunningJob {
  job: Job;
  abort: AbortController;
}

/** Waits ms, or less when the signal aborts; removes its abort listener either way (heartbeats reuse one signal). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    signal?.addEventListener("abort", finish, { once: true });
  });

export class NodeAgent {
  readonly nodeId: string;
  private readonly running = new Map<string, RunningJob>();
  private readonly stopping = new AbortController();
  private heartbeatMs = 5000;
  private gpus: Gpu[] = [];
  private loops: Promise<void>[] = [];

  constructor(private readonly options: NodeAgentOptions) {
    this.nodeId = options.nodeId ?? hostname().replace(/[^A-Za-z0-9._-]/g, "-");
  }

  get runningJobIds(): string[] {
    return [...this.running.keys()];
  }

  async start(): Promise<void> {
    this.gpus = (await this.options.probeGpus?.()) ?? [];
    await this.register();
    const hasGpuExecutor = this.options.executors.some((e) => e.name === "peft");
    const hasCpuExecutor = this.options.executors.some((e) => e.name !== "peft");
    // One worker per slot the scheduler may fill: each GPU, plus the CPU slot.
    const workers = (hasGpuExecutor ? this.gpus.length : 0) + (hasCpuExecutor ? 1 : 0);
    this.loops = [this.heartbeatLoop(), ...Array.from({ length: Math.max(1, workers) }, () => this.workLoop())];
  }

  /** Stops taking work, aborts running jobs and hands them back to the trainer (requeued as node-lost). */
  async stop(): Promise<void> {
    this.stopping.abort();
    for (const { abort } of this.running.values()) abort.abort(new AgentStopping());
    await Promise.allSettled(this.loops);
  }

  private async register(): Promise<void> {
    const response = await this.options.client.registerNode({
      node: create(NodeSchema, {
        nodeId: this.nodeId,
        hostname: hostname(),
        gpus: this.gpus,
        executors: this.options.executors.map((e) => e.name),
        hostMemoryBytes: BigInt(totalmem()),
        runningJobIds: this.runningJobIds,
      }),
    });
    this.heartbeatMs = Math.max(100, response.heartbeatIntervalSeconds * 1000);
    this.options.logger?.info("registered", { nodeId: this.nodeId, gpus: this.gpus.length });
  }

  private wakeHeartbeat = () => {};

  private async heartbeatLoop(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const early = new AbortController();
      this.wakeHeartbeat = () => early.abort();
      await sleep(this.heartbeatMs, AbortSignal.any([signal, early.signal]));
      if (signal.aborted) return;
      try {
        const fresh = this.options.probeGpus ? await this.options.probeGpus() : [];
        // Bounded, so a trainer stuck on its store cannot stretch the gap between heartbeats past the limit.
        const response = await this.options.client.heartbeat(
          { nodeId: this.nodeId, gpus: fresh, runningJobIds: this.runningJobIds },
          { timeoutMs: this.heartbeatMs },
        );
        for (const jobId of response.cancelJobIds) this.cancelLocal(jobId, "the trainer asked to stop it");
      } catch (error) {
        if (error instanceof ConnectError && error.code === Code.NotFound) {
          await this.register().catch((e) => this.options.logger?.warn("re-register failed", { error: String(e) }));
        } else {
          this.options.logger?.warn("heartbeat failed", { error: String(error) });
        }
      }
    }
  }

  private cancelLocal(jobId: string, why: string) {
    const running = this.running.get(jobId);
    if (!running) return;
    this.options.logger?.info("stopping job", { jobId, why });
    running.abort.abort();
  }

  private async workLoop(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let job: Job | undefined;
      try {
        const response = await this.options.client.acquireJob(
          { nodeId: this.nodeId, waitSeconds: this.options.acquireWaitSeconds ?? 20 },
          { signal },
        );
        job = response.job;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ConnectError && error.code === Code.NotFound) await this.register().catch(() => {});
        else this.options.logger?.warn("acquire failed", { error: String(error) });
        await sleep(1000, signal);
        continue;
      }
      if (job && !this.running.has(job.jobId)) await this.runJob(job);
    }
  }

  /** Runs a job inside a span that joins the submitter's trace (the job carries its context across the queue). */
  private runJob(job: Job): Promise<void> {
    const attributes = {
      "ragtune.trainer.job.id": job.jobId,
      "ragtune.trainer.job.attempt": job.attempt,
      "ragtune.trainer.executor": job.spec?.executor ?? "",
      "ragtune.trainer.node.id": this.nodeId,
    };
    return withTraceContext(job.traceContext, () =>
      withSpan("ragtune-agent", "ragtune.agent.job.run", attributes, (span) => this.runJobInSpan(job, span)),
    );
  }

  private async runJobInSpan(job: Job, span: Span): Promise<void> {
    const abort = new AbortController();
    this.running.set(job.jobId, { job, abort });
    const logger = this.options.logger;
    const workDir = await mkdtemp(join(this.options.workRoot ?? tmpdir(), `ragtune-job-${job.jobId}-`));
    const adapterDir = join(workDir, "adapter");
    await mkdir(adapterDir, { recursive: true });
    const progress = this.createProgressReporter(job, abort);
    try {
      const executor = this.options.executors.find((e) => e.name === job.spec?.executor);
      if (!executor) throw new ExecutorFailure(FailureClass.USER_ERROR, `no executor "${job.spec?.executor}" here`);
      logger?.info("job started", { jobId: job.jobId, attempt: job.attempt, executor: executor.name });
      const { pairs, sha256 } = await loadTrainingPairs(job.spec!, this.options.readObject);
      const result = await executor.run({
        job,
        pairs,
        trainingDataSha256: sha256,
        workDir,
        adapterDir,
        gpuIndex: job.gpuIndex,
        signal: abort.signal,
        onProgress: progress.report,
      });
      await progress.flush();
      if (abort.signal.aborted) return;
      await writeFile(
        join(adapterDir, "ragtune-adapter.json"),
        `${JSON.stringify({ job_id: job.jobId, base_model: job.spec?.baseModel, executor: executor.name, training_data_sha256: sha256, metrics: result.metrics }, null, 2)}\n`,
      );
      const stored = await this.uploadWithRetries(job, await archiveDirectory(adapterDir), abort.signal);
      await this.reportUntilAnswered(job, {
        case: "succeeded",
        value: {
          uri: stored.uri,
          sha256: stored.sha256,
          sizeBytes: BigInt(stored.sizeBytes),
          metrics: result.metrics,
          trainingDataSha256: sha256,
        } as never,
      });
      logger?.info("job succeeded", { jobId: job.jobId, uri: stored.uri });
    } catch (error) {
      await progress.flush().catch(() => {});
      if (abort.signal.aborted) {
        logger?.info("job stopped", { jobId: job.jobId });
        // Shutting down: hand the job back now rather than after the trainer misses three heartbeats.
        if (this.stopping.signal.aborted) await this.handBack(job);
        return;
      }
      const failureClass = error instanceof ExecutorFailure ? error.failureClass : FailureClass.TRANSIENT;
      const message = (error as Error).message ?? String(error);
      recordSpanFailure(span, error);
      logger?.warn("job failed", { jobId: job.jobId, failureClass: FailureClass[failureClass], message });
      await this.reportUntilAnswered(job, { case: "failed", value: { failureClass, message } as never });
    } finally {
      this.running.delete(job.jobId);
      // The job's processes are gone (executors return only then): tell the trainer now, so it frees the slot.
      this.wakeHeartbeat();
      await rm(workDir, { recursive: true, force: true }).catch(() => {});
    }
  }

  /** Sends progress at most every progressIntervalMs; the latest value wins. A cancel answer aborts the job. */
  private createProgressReporter(job: Job, abort: AbortController) {
    const interval = this.options.progressIntervalMs ?? 1000;
    let pending: JobProgress | undefined;
    let lastSent = 0;
    let inFlight: Promise<void> = Promise.resolve();
    const send = () => {
      const value = pending;
      pending = undefined;
      if (!value) return inFlight;
      lastSent = Date.now();
      inFlight = inFlight.then(async () => {
        try {
          const response = await this.options.client.reportJob(this.reportRequest(job, { case: "progress", value }));
          if (response.cancel) this.cancelLocal(job.jobId, "cancelled or reassigned");
        } catch (error) {
          this.options.logger?.warn("progress report failed", { jobId: job.jobId, error: String(error) });
        }
      });
      return inFlight;
    };
    return {
      report: (update: Partial<Omit<JobProgress, "$typeName">>) => {
        if (abort.signal.aborted) return;
        pending = create(JobProgressSchema, update);
        if (Date.now() - lastSent >= interval) void send();
      },
      flush: async () => {
        await send();
        await inFlight;
      },
    };
  }

  private async handBack(job: Job): Promise<void> {
    const failed = { failureClass: FailureClass.NODE_LOST, message: `agent on ${this.nodeId} shut down` };
    await this.options.client
      .reportJob(this.reportRequest(job, { case: "failed", value: failed as never }), { timeoutMs: 2000 })
      .catch((error) => this.options.logger?.warn("could not hand the job back", { error: String(error) }));
  }

  private reportRequest(job: Job, report: ReportJobRequest["report"]): ReportJobRequest {
    return create(ReportJobRequestSchema, { nodeId: this.nodeId, jobId: job.jobId, attempt: job.attempt, report });
  }

  /**
   * The trained adapter is worth keeping through a storage blip (NATS restarting): retry for up to
   * uploadRetryMs before giving the attempt up as transient.
   */
  private async uploadWithRetries(job: Job, archive: Uint8Array, signal: AbortSignal) {
    const deadline = Date.now() + (this.options.uploadRetryMs ?? 120_000);
    let delay = 500;
    for (;;) {
      try {
        return await this.options.storage.put(job.jobId, archive);
      } catch (error) {
        if (Date.now() + delay > deadline || signal.aborted) {
          throw new ExecutorFailure(FailureClass.TRANSIENT, `adapter upload failed: ${(error as Error).message}`);
        }
        this.options.logger?.warn("adapter upload failed; retrying", { jobId: job.jobId, error: String(error) });
        await sleep(delay, signal);
        delay = Math.min(10_000, delay * 2);
      }
    }
  }

  /** Final reports retry with backoff (capped at 30 s) until the trainer answers or the agent stops. */
  private async reportUntilAnswered(job: Job, report: ReportJobRequest["report"]): Promise<void> {
    let delay = 500;
    for (;;) {
      try {
        await this.options.client.reportJob(this.reportRequest(job, report));
        return;
      } catch (error) {
        const code = error instanceof ConnectError ? error.code : Code.Unknown;
        // The trainer rejected the report itself: retrying the same bytes cannot help.
        if (code === Code.InvalidArgument || code === Code.NotFound) {
          this.options.logger?.error("report rejected", { jobId: job.jobId, error: String(error) });
          return;
        }
        if (this.stopping.signal.aborted) return;
        this.options.logger?.warn("report failed; retrying", { jobId: job.jobId, error: String(error), delay });
        await sleep(delay, this.stopping.signal);
        delay = Math.min(30_000, delay * 2);
      }
    }
  }
}
