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
import { type Logger, type NatsHandle, withSpan } from "@ragtune/runtime";
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
}

export class ExperimentRunner {
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();

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
    if (!this.running.has(id)) {
      const controller = new AbortController();
      // A run outlives the StartExperiment call: its span starts a trace of its own rather than hang off that call.
      const done = context
        .with(ROOT_CONTEXT, () => this.run(id, controller.signal))
        .finally(() => this.running.delete(id));
      this.running.set(id, { controller, done });
    }
    return experiment;
  }

  /** Stops a run here; the caller records the CANCELLED state. */
  async stop(id: string): Promise<void> {
    const run = this.running.get(id);
    if (!run) return;
    run.controller.abort(new Error("experiment cancelled"));
    await run.done;
  }

  /** Resumes the runs a previous gateway process left RUNNING. */
  async resumeInterrupted(): Promise<string[]> {
    const interrupted = (await this.deps.store.list()).filter((e) => e.state === ExperimentState.RUNNING);
    for (const e of interrupted) await this.start(e.experimentId);
    return interrupted.map((e) => e.experimentId);
  }

  async stopAll(): Promise<void> {
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
