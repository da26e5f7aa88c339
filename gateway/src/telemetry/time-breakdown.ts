/**
 * Where an experiment's time goes. The runner announces each cell's stage ("prepare <dataset>: …",
 * "fine-tune <cell> (job <id>)", "generate <cell>", "judge <cell>", or "generate and judge <cell>" where the two
 * overlap) and stores each finished cell; this module
 * turns those into time per stage (summed over cells), the slowest cells, and the time fine-tune jobs waited for a
 * GPU, kept in Experiment.time_breakdown and recorded as OpenTelemetry metrics. It wraps the runner's stores
 * rather than living in the runner, so the runner only has to announce its stages.
 */
import { create } from "@bufbuild/protobuf";
import {
  CellTimeSchema,
  type Experiment,
  type StageTime,
  StageTimeSchema,
  type TimeBreakdown,
  TimeBreakdownSchema,
} from "@ragtune/contracts/gateway";
import { recordCellDone, recordQueueWait, recordStageDuration } from "@ragtune/runtime";
import type { CellResultStore } from "../experiments/cell-results.js";
import type { ExperimentStore } from "../experiments/experiment-store.js";

const SLOWEST_KEPT = 5;
const STAGE = /^(prepare|fine-tune|generate and judge|generate|judge) ([^\s:]+)(?::| |$)(?:.*\(job ([^)]+)\))?/;

/** The kind, subject (cell key or dataset) and fine-tune job of a stage announcement, if it is one. */
export function parseStage(text: string): { stage: string; subject: string; jobId?: string } | undefined {
  const match = STAGE.exec(text);
  if (!match) return undefined;
  return { stage: match[1], subject: match[2], ...(match[3] ? { jobId: match[3] } : {}) };
}

interface OpenCell {
  started: number;
  stage: string;
  stageStarted: number;
  stages: Map<string, number>;
  jobId?: string;
}

/** How long a job waited in the trainer's queue, s; undefined when unknown. */
export type QueueWaitLookup = (jobId: string) => Promise<number | undefined>;

export class TimeBreakdownRecorder {
  private readonly open = new Map<string, Map<string, OpenCell>>();
  private readonly breakdowns = new Map<string, TimeBreakdown>();

  constructor(private readonly options: { queueWait?: QueueWaitLookup; now?: () => number } = {}) {}

  private now(): number {
    return (this.options.now ?? Date.now)() / 1000;
  }

  /** The experiment's breakdown, continuing from the one stored with it (a resumed run keeps its history). */
  private breakdown(experimentId: string, stored?: TimeBreakdown): TimeBreakdown {
    let breakdown = this.breakdowns.get(experimentId);
    if (!breakdown) {
      breakdown = stored ? create(TimeBreakdownSchema, stored) : create(TimeBreakdownSchema, {});
      this.breakdowns.set(experimentId, breakdown);
    }
    return breakdown;
  }

  /** A stage announcement of an experiment; repeated announcements of the same stage are ignored. */
  observeStage(experimentId: string, text: string, stored?: TimeBreakdown): void {
    const parsed = parseStage(text);
    if (!parsed) return;
    const breakdown = this.breakdown(experimentId, stored);
    const cells = this.open.get(experimentId) ?? new Map<string, OpenCell>();
    this.open.set(experimentId, cells);
    const at = this.now();
    // A dataset's preparation ends when one of its cells starts.
    for (const [subject, cell] of cells) {
      if (cell.stage === "prepare" && parsed.stage !== "prepare" && parsed.subject.startsWith(`${subject}.`)) {
        this.closeStage(breakdown, cell, at);
        cells.delete(subject);
      }
    }
    const cell = cells.get(parsed.subject);
    if (cell?.stage === parsed.stage) return;
    if (cell) this.closeStage(breakdown, cell, at);
    const next = cell ?? { started: at, stage: parsed.stage, stageStarted: at, stages: new Map<string, number>() };
    next.stage = parsed.stage;
    next.stageStarted = at;
    if (parsed.jobId) next.jobId = parsed.jobId;
    cells.set(parsed.subject, next);
    addStage(breakdown.stages, parsed.stage, 0, 1);
  }

  private closeStage(breakdown: TimeBreakdown, cell: OpenCell, at: number) {
    const seconds = Math.max(0, at - cell.stageStarted);
    addStage(breakdown.stages, cell.stage, seconds, 0);
    cell.stages.set(cell.stage, (cell.stages.get(cell.stage) ?? 0) + seconds);
    recordStageDuration(seconds, { stage: cell.stage });
    cell.stageStarted = at;
  }

  /** A cell was stored as finished: its last stage ends; its job's queue wait is looked up. */
  async cellFinished(experimentId: string, cellKey: string, outcome: "succeeded" | "failed"): Promise<void> {
    recordCellDone(outcome);
    const cells = this.open.get(experimentId);
    const cell = cells?.get(cellKey);
    if (!cell) return;
    cells!.delete(cellKey);
    const breakdown = this.breakdown(experimentId);
    const at = this.now();
    this.closeStage(breakdown, cell, at);
    const queue = cell.jobId ? ((await this.options.queueWait?.(cell.jobId).catch(() => undefined)) ?? 0) : 0;
    if (queue > 0) {
      breakdown.queueWaitSeconds += queue;
      recordQueueWait(queue, "trainer.jobs");
    }
    const timed = create(CellTimeSchema, {
      cellKey,
      seconds: at - cell.started,
      queueSeconds: queue,
      stages: [...cell.stages].map(([stage, seconds]) => create(StageTimeSchema, { stage, seconds, count: 1 })),
    });
    breakdown.slowestCells = [...breakdown.slowestCells.filter((c) => c.cellKey !== cellKey), timed]
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, SLOWEST_KEPT);
  }

  /** The breakdown to store with the experiment now, or undefined when nothing has been timed. */
  current(experimentId: string): TimeBreakdown | undefined {
    return this.breakdowns.get(experimentId);
  }
}

function addStage(stages: StageTime[], stage: string, seconds: number, count: number) {
  let entry = stages.find((s) => s.stage === stage);
  if (!entry) {
    entry = create(StageTimeSchema, { stage });
    stages.push(entry);
  }
  entry.seconds += seconds;
  entry.count += count;
}

/** The experiment store, keeping each experiment's time breakdown current as its stage changes. */
export function timedExperimentStore(store: ExperimentStore, recorder: TimeBreakdownRecorder): ExperimentStore {
  return {
    ...store,
    update: (id, change) =>
      store.update(id, (e: Experiment) => {
        const before = e.currentStage;
        change(e);
        if (e.currentStage && e.currentStage !== before) recorder.observeStage(id, e.currentStage, e.timeBreakdown);
        const breakdown = recorder.current(id);
        if (breakdown) e.timeBreakdown = create(TimeBreakdownSchema, breakdown);
      }),
  };
}

/** The cell store, telling the recorder when a cell is stored as finished. */
export function timedCellStore(cells: CellResultStore, recorder: TimeBreakdownRecorder): CellResultStore {
  return {
    ...cells,
    put: async (experimentId, result) => {
      await cells.put(experimentId, result);
      await recorder.cellFinished(experimentId, result.cellKey, "succeeded");
    },
  };
}
