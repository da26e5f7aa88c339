import { randomUUID } from "node:crypto";
import { create, equals } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type CreateExperimentRequest,
  type ExperimentService,
  ExperimentSchema,
  ExperimentSpecSchema,
  ExperimentState,
} from "@ragtune/contracts/gateway";
import { alreadyExists, failedPrecondition, invalidArgument, notFound, requirePattern } from "@ragtune/runtime";
import type { CellResultStore } from "./cell-results.js";
import { type DatasetAccess, defaultDatasetAccess } from "./dataset-access.js";
import type { ExperimentRunner } from "./experiment-runner.js";
import { countCells, validateExperimentDatasets, validateExperimentSpec, withDefaults } from "./experiment-spec.js";
import type { ExperimentStore } from "./experiment-store.js";
import { EXPERIMENT_ID_PATTERN, EXPERIMENT_ID_RULE } from "./names.js";
import { buildResultRows } from "./results-table.js";

const FINISHED = new Set([ExperimentState.SUCCEEDED, ExperimentState.FAILED, ExperimentState.CANCELLED]);

export class ExperimentServiceImpl implements ServiceImpl<typeof ExperimentService> {
  constructor(
    private readonly store: ExperimentStore,
    private readonly cells: CellResultStore,
    private readonly runner: ExperimentRunner,
    private readonly datasetAccess: DatasetAccess = defaultDatasetAccess(),
  ) {}

  async createExperiment(req: CreateExperimentRequest) {
    if (req.experimentId) requirePattern("experiment_id", req.experimentId, EXPERIMENT_ID_PATTERN, EXPERIMENT_ID_RULE);
    validateExperimentSpec(req.spec);
    const spec = withDefaults(req.spec);
    await validateExperimentDatasets(spec, this.datasetAccess);
    const experiment = create(ExperimentSchema, {
      experimentId: req.experimentId || `exp-${randomUUID().slice(0, 8)}`,
      spec,
      state: ExperimentState.CREATED,
      cellsTotal: countCells(spec),
      createTime: timestampNow(),
      updateTime: timestampNow(),
    });
    if (await this.store.insert(experiment)) return { experiment };
    const existing = (await this.store.get(experiment.experimentId))!;
    if (!equals(ExperimentSpecSchema, existing.spec!, spec)) {
      throw alreadyExists("experiment", experiment.experimentId, "exists with a different spec");
    }
    return { experiment: existing };
  }

  async getExperiment(req: { experimentId: string }) {
    return { experiment: await this.require(req.experimentId) };
  }

  async listExperiments() {
    const experiments = await this.store.list();
    experiments.sort((a, b) => Number((b.createTime?.seconds ?? 0n) - (a.createTime?.seconds ?? 0n)));
    return { experiments };
  }

  async cancelExperiment(req: { experimentId: string }) {
    const current = await this.require(req.experimentId);
    if (FINISHED.has(current.state)) {
      throw failedPrecondition(`experiment "${req.experimentId}" is ${ExperimentState[current.state]} already`);
    }
    await this.runner.stop(req.experimentId);
    const experiment = await this.store.update(req.experimentId, (e) => {
      e.state = ExperimentState.CANCELLED;
      e.currentStage = "";
      e.updateTime = timestampNow();
    });
    return { experiment };
  }

  async *watchExperiment(req: { experimentId: string }, ctx: HandlerContext) {
    await this.require(req.experimentId);
    for await (const experiment of this.store.watch(req.experimentId, ctx.signal)) {
      yield { experiment };
      if (FINISHED.has(experiment.state)) return;
    }
  }

  /** Starts a created experiment, or resumes a cancelled or failed one; finished cells are kept. */
  async startExperiment(req: { experimentId: string }) {
    const current = await this.require(req.experimentId);
    if (current.state === ExperimentState.SUCCEEDED || this.runner.isRunning(req.experimentId)) {
      return { experiment: current };
    }
    return { experiment: await this.runner.start(req.experimentId) };
  }

  /** The table of finished cells (all of them once the experiment succeeded). */
  async getResults(req: { experimentId: string }) {
    const experiment = await this.require(req.experimentId);
    const cells = await this.cells.list(req.experimentId);
    return { rows: buildResultRows(cells, experiment.spec!) };
  }

  /** Every kept answer of the finished cells, cell by cell (ordered by cell key). */
  async *exportAnswers(req: { experimentId: string }) {
    await this.require(req.experimentId);
    const cells = await this.cells.list(req.experimentId);
    cells.sort((a, b) => a.cellKey.localeCompare(b.cellKey));
    for (const cell of cells) {
      // Read from the store as they are sent: a cell of any size is never held whole.
      for await (const record of this.cells.answers(req.experimentId, cell.cellKey)) yield { record };
    }
  }

  private async require(id: string) {
    if (!id) throw invalidArgument("experiment_id", "must not be empty");
    // Every RPC, not only CreateExperiment: the id is a KV key (a wildcard would match others' records).
    requirePattern("experiment_id", id, EXPERIMENT_ID_PATTERN, EXPERIMENT_ID_RULE);
    const experiment = await this.store.get(id);
    if (!experiment) throw notFound("experiment", id);
    return experiment;
  }
}
