/**
 * Runs experiments in the gateway process. A dataset's cells run at once as soon as it is prepared: fine-tunes
 * go to the trainer together (it spreads them over its GPUs) while the base cells and every finished fine-tune
 * are evaluated, each call waiting only for its backend's slots. Each result is stored as it finishes, so a
 * cancelled, failed or interrupted run resumes where it stopped without redoing finished cells.
 * One trace per run: the run's span is the parent of every call it makes.
 */
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { context, ROOT_CONTEXT } from "@opentelemetry/api";
import { type Client, Code } from "@connectrpc/connect";
import { ExperimentChangedSchema } from "@ragtune/contracts/events";
import { type Experiment, ExperimentState } from "@ragtune/contracts/gateway";
import type { RetrieverService } from "@ragtune/contracts/retriever";
import { type Lease, type Logger, type NatsHandle, withSpan } from "@ragtune/runtime";
import { GeneratorService } from "@ragtune/contracts/generator";
import { JudgeService } from "@ragtune/contracts/judge";
import { RetrieverService as RetrieverServiceDesc } from "@ragtune/contracts/retriever";
import { TrainerService } from "@ragtune/contracts/trainer";
import { BackendLimits } from "./backend-limits.js";
import { DEFAULT_RETRY_POLICY, resilientClient, type RetryPolicy, withRetries } from "./call-retries.js";
import type { CellResultStore } from "./cell-results.js";
import { CellFailedError, type CellClients, runCell } from "./cell-runner.js";
import { type AnswerJournal, patientJournal } from "./answer-journal.js";
import { isRunInterruption } from "./run-interruptions.js";
import { type Cell, enumerateCells } from "./cells.js";
import { type DatasetAccess, defaultDatasetAccess } from "./dataset-access.js";
import { type PreparedDataset, prepareDataset } from "./dataset-preparation.js";
import type { ExperimentStore } from "./experiment-store.js";
import type { ManifestStore } from "./manifest-store.js";
import { type ContextStore, createMemoryContextStore } from "./question-contexts.js";
import { StageProgress } from "./stage-progress.js";

/** Adoptions of one run, without a cell finished in between, after which it fails instead. */
export const DEFAULT_MAX_ADOPTIONS = 3;
/** Pause before a run a passing fault stopped starts again (NATS restarting takes about this long). */
const RELAUNCH_DELAY_MS = 2000;

export interface ExperimentClients extends CellClients {
  retriever: Client<typeof RetrieverService>;
}

export interface ExperimentRunnerDeps {
  store: ExperimentStore;
  cells: CellResultStore;
  /** Answers kept as they are given, so a cell run again does not ask the model again; without: none kept. */
  journal?: AnswerJournal;
  clients: ExperimentClients;
  /** Where split manifests are written (a local record of each split). */
  workDir: string;
  /** Where the trainer's agents read split manifests from; without one, the files in workDir (a shared disk). */
  manifests?: ManifestStore;
  /**
   * Where each question's retrieved chunks are kept from preparation to the last cell, outside the process and
   * across restarts; without: in this process's memory, for as long as it runs.
   */
  contexts?: ContextStore;
  /** Where datasets may be read from; default: the default data roots. */
  datasetAccess?: DatasetAccess;
  logger: Logger;
  events?: Pick<NatsHandle, "publishEvent">;
  /**
   * One lease per experiment among gateway replicas: only its holder runs the experiment, renews it while it does,
   * and stops when it loses it; a replica that dies lets it lapse and another adopts the run. Without: one gateway.
   */
  leaseFor?: (experimentId: string) => Lease;
  /** Deadlines and retries of every call to the services; default DEFAULT_RETRY_POLICY. */
  retry?: RetryPolicy;
  /** A run adopted more often than this without finishing a cell fails (a crash loop); default 3. */
  maxAdoptions?: number;
  /** How often stage progress is written to the record, ms; default 1000. */
  progressEveryMs?: number;
}

export class ExperimentRunner {
  /** Runs in this process; `holds` is false once this gateway's lease on the run may have lapsed. */
  private readonly running = new Map<
    string,
    { controller: AbortController; done: Promise<void>; holds: () => boolean }
  >();
  private adoptTimer?: NodeJS.Timeout;
  private stopping = false;
  private readonly clients: ExperimentClients;
  private readonly contexts: ContextStore;

  constructor(private readonly deps: ExperimentRunnerDeps) {
    this.contexts = deps.contexts ?? createMemoryContextStore();
    const policy: RetryPolicy = {
      ...(deps.retry ?? DEFAULT_RETRY_POLICY),
      onRetry: (info) =>
        deps.logger.warn("retrying a call", {
          method: info.method,
          attempt: info.attempt,
          delayMs: info.delayMs,
          code: Code[info.error.code],
          error: info.error.rawMessage,
        }),
    };
    this.retry = policy;
    const c = deps.clients;
    this.clients = {
      retriever: resilientClient(RetrieverServiceDesc, c.retriever, policy),
      trainer: resilientClient(TrainerService, c.trainer, policy),
      generator: resilientClient(GeneratorService, c.generator, policy),
      judge: resilientClient(JudgeService, c.judge, policy),
    };
  }

  private readonly retry: RetryPolicy;
  private readonly limits = new Map<string, BackendLimits>();

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  /** Starts (or resumes) the run in the background; resolves once the record says RUNNING. */
  async start(id: string): Promise<Experiment> {
    const experiment = await this.update(id, (e) => {
      e.state = ExperimentState.RUNNING;
      e.error = "";
      e.adoptions = 0; // started by a person: a fresh allowance
    });
    await this.launch(id);
    return experiment;
  }

  /** Runs the experiment here unless it already runs here or another replica holds its lease; true if here. */
  private async launch(id: string, adopting = false): Promise<boolean> {
    if (this.running.has(id)) return true;
    const lease = this.deps.leaseFor?.(id);
    if (lease && (await lease.claim()) === "held-elsewhere") return false;
    if (this.running.has(id)) return true; // started meanwhile by a concurrent call
    if (adopting && !(await this.countAdoption(id))) {
      await lease?.release().catch(() => {});
      return false;
    }
    const controller = new AbortController();
    const renewal = lease && this.keepLease(id, lease, controller);
    // A run outlives the StartExperiment call: its span starts a trace of its own rather than hang off that call.
    const done = context
      .with(ROOT_CONTEXT, () => this.run(id, controller.signal))
      // Whatever escapes a run is logged here: a rejection nobody awaits would end the gateway process.
      .catch((error) => {
        this.deps.logger.error("experiment run crashed", { experiment: id, error: String(error) });
        return undefined;
      })
      .then(async (outcome) => {
        clearInterval(renewal);
        this.running.delete(id);
        this.limits.delete(id);
        await lease?.release().catch(() => {});
        if (outcome === "interrupted") this.relaunchLater(id);
      });
    this.running.set(id, { controller, done, holds: () => !lease || lease.held() });
    return true;
  }

  /**
   * Starts an interrupted run again after a pause, as an adoption: counted, so a fault that never passes fails the
   * run after maxAdoptions. Another replica may take it first (its lease is free meanwhile).
   */
  private relaunchLater(id: string): void {
    if (this.stopping) return;
    const timer = setTimeout(() => {
      this.launch(id, true).catch((error) => {
        // NATS may still be away: the orphan scan (with leases) or the next start picks the run up.
        this.deps.logger.warn("could not start an interrupted run again", { experiment: id, error: String(error) });
      });
    }, RELAUNCH_DELAY_MS);
    timer.unref();
  }

  /**
   * Records that this gateway adopts a run another one left RUNNING (it crashed, or was stopped mid-run); past
   * the limit the run fails with the reason kept, instead of taking down gateway after gateway. False: not run.
   */
  private async countAdoption(id: string): Promise<boolean> {
    const max = this.deps.maxAdoptions ?? DEFAULT_MAX_ADOPTIONS;
    const record = await this.update(id, (e) => {
      if (e.state !== ExperimentState.RUNNING) return;
      e.adoptions++;
      if (e.adoptions <= max) return;
      e.state = ExperimentState.FAILED;
      e.error =
        `gave up after ${max} adoptions without a finished cell: every gateway that ran this experiment stopped ` +
        `while running it (last stage: ${e.currentStage || "none recorded"}); see those gateways' logs, then ` +
        "resume it (ragtune resume) once the cause is fixed";
      e.currentStage = "";
    });
    if (record.state !== ExperimentState.RUNNING) {
      this.deps.logger.error("experiment failed: adopted too often", { experiment: id, adoptions: record.adoptions });
      return false;
    }
    this.deps.logger.warn("adopting an experiment run", { experiment: id, adoptions: record.adoptions });
    return true;
  }

  /**
   * Renews the lease at a third of its time to live; stops the run when the lease went to another replica or the
   * record no longer says RUNNING (cancelled through another replica).
   */
  private keepLease(id: string, lease: Lease, controller: AbortController): NodeJS.Timeout {
    const timer = setInterval(async () => {
      try {
        const [claimed, record] = await Promise.all([lease.claim(), this.deps.store.get(id)]);
        if (claimed === "held-elsewhere") controller.abort(new Error("lease taken over by another gateway"));
        else if (record && record.state !== ExperimentState.RUNNING) {
          controller.abort(new Error(`experiment is ${ExperimentState[record.state]} now`));
        }
      } catch (error) {
        this.deps.logger.warn("could not renew the experiment lease", { experiment: id, error: String(error) });
      }
    }, lease.ttlMs / 3);
    timer.unref();
    return timer;
  }

  /** Stops a run here; the caller records the CANCELLED state. */
  async stop(id: string): Promise<void> {
    const run = this.running.get(id);
    if (!run) return;
    run.controller.abort(new Error("experiment cancelled"));
    await run.done;
  }

  /** Resumes the runs left RUNNING that no live gateway holds (a previous process, or a replica that died). */
  async resumeInterrupted(): Promise<string[]> {
    const interrupted = (await this.deps.store.list()).filter(
      (e) => e.state === ExperimentState.RUNNING && !this.running.has(e.experimentId),
    );
    const adopted: string[] = [];
    for (const e of interrupted) if (await this.launch(e.experimentId, true)) adopted.push(e.experimentId);
    return adopted;
  }

  /** With leases: looks for runs whose lease lapsed (their gateway died) every time to live, and adopts them. */
  adoptOrphanedRuns(intervalMs: number): void {
    this.adoptTimer = setInterval(() => {
      this.resumeInterrupted()
        .then((adopted) => adopted.length && this.deps.logger.info("adopted experiment runs", { adopted }))
        .catch((error) => this.deps.logger.warn("could not look for orphaned runs", { error: String(error) }));
    }, intervalMs);
    this.adoptTimer.unref();
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    clearInterval(this.adoptTimer);
    for (const { controller } of this.running.values()) controller.abort(new Error("gateway shutting down"));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** Runs the cells left; "interrupted" when a passing fault stopped it (it is still RUNNING, to start again). */
  private async run(id: string, signal: AbortSignal): Promise<"interrupted" | undefined> {
    const { logger } = this.deps;
    return withSpan(
      "ragtune.gateway",
      "ragtune.gateway.experiment.run",
      { "ragtune.experiment.id": id },
      async (span) => {
        await this.update(id, (e) => {
          e.traceId = span.spanContext().traceId;
          e.stages = []; // counted afresh over the cells this run has left
        });
        const experiment = (await this.deps.store.get(id))!;
        const progress = new StageProgress((change) => this.update(id, change), this.deps.progressEveryMs);
        // One cell's fault that a retry cannot fix stops the others at once; a CellFailedError only its own cell.
        const fatal = new AbortController();
        const runSignal = AbortSignal.any([signal, fatal.signal]);
        const failures: string[] = [];
        const cellRuns: Promise<void>[] = [];
        try {
          const pending = await this.cellsLeft(id, enumerateCells(experiment.spec!));
          for (const [name, cells] of pending) {
            if (runSignal.aborted) break;
            const dataset = await this.prepare(id, experiment, cells[0], progress, runSignal);
            progress.add("train", 0, cells.filter((c) => c.size > 0).length);
            progress.add("generate", 0, dataset.evalItems.length * cells.length);
            progress.add("judge", 0, dataset.evalItems.length * cells.length);
            logger.info("dataset prepared; running its cells", { experiment: id, dataset: name, cells: cells.length });
            for (const cell of cells) {
              const run = this.runOneCell(id, experiment, cell, dataset, progress, runSignal).catch((error) => {
                if (!(error instanceof CellFailedError)) {
                  fatal.abort(error);
                  throw error;
                }
                failures.push(`${cell.key}: ${error.message}`);
                logger.warn("cell failed", { experiment: id, cell: cell.key, error: error.message });
              });
              run.catch(() => {}); // awaited below with the others
              cellRuns.push(run);
            }
          }
          await Promise.allSettled(cellRuns);
          if (runSignal.aborted) throw runSignal.reason;
          await progress.flush();
          const finished = await this.update(id, (e) => {
            if (e.state !== ExperimentState.RUNNING) return; // cancelled through another replica meanwhile
            e.state = failures.length ? ExperimentState.FAILED : ExperimentState.SUCCEEDED;
            e.error = failures.sort().join("\n");
            e.currentStage = "";
          });
          // Every answer record holds its chunks now; a failed run keeps them for the cells it runs again.
          if (finished.state === ExperimentState.SUCCEEDED) {
            await this.contexts.forget(id).catch((error) => {
              logger.warn("could not drop a finished run's retrieved chunks", { experiment: id, error: String(error) });
            });
          }
        } catch (error) {
          // Nothing of this run may still be calling out when it is recorded as stopped or started again.
          fatal.abort(error);
          await Promise.allSettled(cellRuns);
          progress.stop();
          if (signal.aborted) {
            logger.info("experiment run stopped", {
              experiment: id,
              reason: String((signal.reason as Error)?.message),
            });
            return;
          }
          if (isRunInterruption(error)) {
            logger.warn("experiment run interrupted; it starts again", { experiment: id, error: String(error) });
            return "interrupted";
          }
          logger.error("experiment failed", { experiment: id, error: String(error) });
          await this.update(id, (e) => {
            if (e.state !== ExperimentState.RUNNING) return;
            e.state = ExperimentState.FAILED;
            e.error = [...failures.sort(), (error as Error).message].join("\n");
          });
        }
        return undefined;
      },
    );
  }

  /** The cells not finished yet, by dataset, in the grid's order. */
  private async cellsLeft(id: string, cells: Cell[]): Promise<Map<string, Cell[]>> {
    const left = new Map<string, Cell[]>();
    for (const cell of cells) {
      if (await this.deps.cells.get(id, cell.key)) continue;
      left.set(cell.dataset.name, [...(left.get(cell.dataset.name) ?? []), cell]);
    }
    return left;
  }

  private async prepare(
    id: string,
    experiment: Experiment,
    cell: Cell,
    progress: StageProgress,
    signal: AbortSignal,
  ): Promise<PreparedDataset> {
    await this.stage(id, `prepare ${cell.dataset.name}: load, split, index, retrieve`);
    let retrieved = 0;
    // Every step of a preparation is idempotent, so one that a restarting retriever cut off (its ingest stream
    // cannot be replayed call by call) is tried again whole; progress counts each question once across attempts.
    const prepareOnce = () =>
      prepareDataset({
        experimentId: id,
        spec: experiment.spec!,
        dataset: cell.dataset,
        workDir: this.deps.workDir,
        createTime: new Date(Number(experiment.createTime?.seconds ?? 0n) * 1000),
        retriever: this.clients.retriever,
        manifests: this.deps.manifests,
        access: this.deps.datasetAccess ?? defaultDatasetAccess(),
        contexts: this.contexts.forDataset(id, cell.dataset.name),
        signal,
        onRetrieved: (done, total) => {
          if (done <= retrieved) return;
          progress.add("retrieve", done - retrieved, retrieved === 0 ? total : 0);
          retrieved = done;
        },
      });
    return withSpan(
      "ragtune.gateway",
      "ragtune.gateway.dataset.prepare",
      { "ragtune.dataset": cell.dataset.name },
      () => withRetries(`prepare ${cell.dataset.name}`, this.retry, signal, prepareOnce),
    );
  }

  private async runOneCell(
    id: string,
    experiment: Experiment,
    cell: Cell,
    dataset: PreparedDataset,
    progress: StageProgress,
    signal: AbortSignal,
  ): Promise<void> {
    const result = await withSpan("ragtune.gateway", "ragtune.gateway.cell.run", { "ragtune.cell": cell.key }, () =>
      runCell({
        experimentId: id,
        cell,
        spec: experiment.spec!,
        prepared: dataset,
        clients: this.clients,
        signal,
        logger: this.deps.logger,
        onStage: (stage) => void this.stage(id, stage),
        limits: this.limitsFor(id, experiment),
        progress,
        retry: this.retry,
        journal: this.deps.journal && patientJournal(this.deps.journal.forCell(id, cell.key), this.deps.logger, signal),
        writeAnswers: (records) => this.deps.cells.writeAnswers(id, cell.key, records),
      }),
    );
    this.fence(id);
    await this.deps.cells.put(id, result);
    // Its answers are in its records now; an entry left behind by a failure here expires with the bucket's TTL.
    await this.deps.journal?.forget(id, cell.key).catch((error: Error) => {
      this.deps.logger.warn("could not drop a finished cell's answer journal", {
        cell: cell.key,
        error: error.message,
      });
    });
    await this.update(id, (e) => {
      e.cellsDone = Math.min(e.cellsTotal, e.cellsDone + 1);
      e.adoptions = 0; // the run moves on: whatever stopped its gateways before was not a loop
    });
    this.deps.logger.info("cell done", { experiment: id, cell: cell.key });
  }

  /**
   * Stops the run before a write that only the lease holder may make, when this gateway's lease may have lapsed
   * (by its own clock: renewals failed, or the process stalled): another replica may have adopted the run, and
   * two gateways must never both record a cell. The run stays RUNNING for whichever gateway holds it now.
   */
  private fence(id: string): void {
    const run = this.running.get(id);
    if (!run || run.holds()) return;
    run.controller.abort(
      new Error("lease lapsed before a cell's result was written: another gateway may hold the run"),
    );
    throw run.controller.signal.reason;
  }

  /** One set of backend slots per run, shared by its cells. */
  private limitsFor(id: string, experiment: Experiment): BackendLimits {
    let limits = this.limits.get(id);
    if (!limits || limits.spec !== experiment.spec) {
      limits = new BackendLimits(experiment.spec!);
      this.limits.set(id, limits);
    }
    return limits;
  }

  private stage(id: string, stage: string) {
    return this.update(id, (e) => {
      e.currentStage = stage;
    }).catch((error) => this.deps.logger.warn("could not record stage", { error }));
  }

  private async update(id: string, change: (e: Experiment) => void): Promise<Experiment> {
    const experiment = await this.deps.store.update(id, (e) => {
      change(e);
      e.updateTime = timestampNow();
    });
    await this.deps.events
      ?.publishEvent("ragtune.gateway.experiment.changed", ExperimentChangedSchema, {
        experimentId: id,
        state: experiment.state,
        cellsDone: experiment.cellsDone,
        cellsTotal: experiment.cellsTotal,
      })
      .catch((error) => this.deps.logger.warn("could not publish experiment event", { error }));
    return experiment;
  }
}
