/**
 * Runs experiments in the gateway process: cell after cell, each result stored as it finishes, so a cancelled,
 * failed or interrupted run resumes where it stopped without redoing finished cells.
 * One trace per run: the run's span is the parent of every call it makes.
 */
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { context, ROOT_CONTEXT } from "@opentelemetry/api";
import type { Client } from "@connectrpc/connect";
import { ExperimentChangedSchema } from "@ragtune/contracts/events";
import { type Experiment, ExperimentState } from "@ragtune/contracts/gateway";
import type { RetrieverService } from "@ragtune/contracts/retriever";
import { type Lease, type Logger, type NatsHandle, withSpan } from "@ragtune/runtime";
import type { CellResultStore } from "./cell-results.js";
import { CellFailedError, type CellClients, runCell } from "./cell-runner.js";
import { enumerateCells } from "./cells.js";
import { type PreparedDataset, prepareDataset } from "./dataset-preparation.js";
import type { ExperimentStore } from "./experiment-store.js";
import type { ManifestStore } from "./manifest-store.js";

export interface ExperimentClients extends CellClients {
  retriever: Client<typeof RetrieverService>;
}

export interface ExperimentRunnerDeps {
  store: ExperimentStore;
  cells: CellResultStore;
  clients: ExperimentClients;
  /** Where split manifests are written (a local record of each split). */
  workDir: string;
  /** Where the trainer's agents read split manifests from; without one, the files in workDir (a shared disk). */
  manifests?: ManifestStore;
  logger: Logger;
  events?: Pick<NatsHandle, "publishEvent">;
  /**
   * One lease per experiment among gateway replicas: only its holder runs the experiment, renews it while it does,
   * and stops when it loses it; a replica that dies lets it lapse and another adopts the run. Without: one gateway.
   */
  leaseFor?: (experimentId: string) => Lease;
}

export class ExperimentRunner {
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private adoptTimer?: NodeJS.Timeout;

  constructor(private readonly deps: ExperimentRunnerDeps) {}

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  /** Starts (or resumes) the run in the background; resolves once the record says RUNNING. */
  async start(id: string): Promise<Experiment> {
    const experiment = await this.update(id, (e) => {
      e.state = ExperimentState.RUNNING;
      e.error = "";
    });
    await this.launch(id);
    return experiment;
  }

  /** Runs the experiment here unless it already runs here or another replica holds its lease; true if here. */
  private async launch(id: string): Promise<boolean> {
    if (this.running.has(id)) return true;
    const lease = this.deps.leaseFor?.(id);
    if (lease && (await lease.claim()) === "held-elsewhere") return false;
    if (this.running.has(id)) return true; // started meanwhile by a concurrent call
    const controller = new AbortController();
    const renewal = lease && this.keepLease(id, lease, controller);
    // A run outlives the StartExperiment call: its span starts a trace of its own rather than hang off that call.
    const done = context
      .with(ROOT_CONTEXT, () => this.run(id, controller.signal))
      .finally(async () => {
        clearInterval(renewal);
        this.running.delete(id);
        await lease?.release().catch(() => {});
      });
    this.running.set(id, { controller, done });
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
    for (const e of interrupted) if (await this.launch(e.experimentId)) adopted.push(e.experimentId);
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
    clearInterval(this.adoptTimer);
    for (const { controller } of this.running.values()) controller.abort(new Error("gateway shutting down"));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private async run(id: string, signal: AbortSignal): Promise<void> {
    const { logger } = this.deps;
    await withSpan(
      "ragtune.gateway",
      "ragtune.gateway.experiment.run",
      { "ragtune.experiment.id": id },
      async (span) => {
        await this.update(id, (e) => {
          e.traceId = span.spanContext().traceId;
        });
        const experiment = (await this.deps.store.get(id))!;
        const spec = experiment.spec!;
        const failures: string[] = [];
        try {
          const cells = enumerateCells(spec);
          const prepared = new Map<string, PreparedDataset>();
          for (const cell of cells) {
            if (signal.aborted) throw signal.reason;
            if (await this.deps.cells.get(id, cell.key)) continue;
            let dataset = prepared.get(cell.dataset.name);
            if (!dataset) {
              await this.stage(id, `prepare ${cell.dataset.name}: load, split, index, retrieve`);
              dataset = await withSpan(
                "ragtune.gateway",
                "ragtune.gateway.dataset.prepare",
                { "ragtune.dataset": cell.dataset.name },
                () =>
                  prepareDataset({
                    experimentId: id,
                    spec,
                    dataset: cell.dataset,
                    workDir: this.deps.workDir,
                    createTime: new Date(Number(experiment.createTime?.seconds ?? 0n) * 1000),
                    retriever: this.deps.clients.retriever,
                    manifests: this.deps.manifests,
                    signal,
                  }),
              );
              prepared.set(cell.dataset.name, dataset);
            }
            try {
              const result = await withSpan(
                "ragtune.gateway",
                "ragtune.gateway.cell.run",
                { "ragtune.cell": cell.key },
                () =>
                  runCell({
                    experimentId: id,
                    cell,
                    spec,
                    prepared: dataset,
                    clients: this.deps.clients,
                    signal,
                    logger,
                    onStage: (stage) => void this.stage(id, stage),
                  }),
              );
              await this.deps.cells.put(id, result);
              await this.update(id, (e) => {
                e.cellsDone = Math.min(e.cellsTotal, e.cellsDone + 1);
              });
              logger.info("cell done", { experiment: id, cell: cell.key });
            } catch (error) {
              if (!(error instanceof CellFailedError)) throw error;
              failures.push(`${cell.key}: ${error.message}`);
              logger.warn("cell failed", { experiment: id, cell: cell.key, error: error.message });
            }
          }
          await this.update(id, (e) => {
            if (e.state !== ExperimentState.RUNNING) return; // cancelled through another replica meanwhile
            e.state = failures.length ? ExperimentState.FAILED : ExperimentState.SUCCEEDED;
            e.error = failures.join("\n");
            e.currentStage = "";
          });
        } catch (error) {
          if (signal.aborted) {
            logger.info("experiment run stopped", {
              experiment: id,
              reason: String((signal.reason as Error)?.message),
            });
            return;
          }
          logger.error("experiment failed", { experiment: id, error });
          await this.update(id, (e) => {
            if (e.state !== ExperimentState.RUNNING) return;
            e.state = ExperimentState.FAILED;
            e.error = [...failures, (error as Error).message].join("\n");
          });
        }
      },
    );
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
