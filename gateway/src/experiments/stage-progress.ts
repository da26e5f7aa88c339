/**
 * Items done per stage of a run, counted in memory as calls finish and written to the experiment record at most
 * once per interval (a write per generated answer would cost more than the answer), and once more at the end.
 */
import { create } from "@bufbuild/protobuf";
import { type Experiment, StageProgressSchema } from "@ragtune/contracts/gateway";

export const STAGES = ["retrieve", "train", "generate", "judge"] as const;
export type Stage = (typeof STAGES)[number];

export interface StageCounter {
  /** Adds items done and items known; either may be 0. */
  add(stage: Stage, done: number, total?: number): void;
}

export class StageProgress implements StageCounter {
  private readonly counts = new Map<Stage, { done: number; total: number }>();
  private timer?: NodeJS.Timeout;
  private dirty = false;
  private writing?: Promise<void>;

  constructor(
    private readonly write: (change: (e: Experiment) => void) => Promise<unknown>,
    private readonly everyMs = 1000,
  ) {}

  add(stage: Stage, done: number, total = 0): void {
    const count = this.counts.get(stage) ?? { done: 0, total: 0 };
    count.done += done;
    count.total += total;
    this.counts.set(stage, count);
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.everyMs);
  }

  /** Writes the counts now if they changed; never throws (progress is advisory). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    const stages = STAGES.filter((s) => this.counts.has(s)).map((stage) =>
      create(StageProgressSchema, {
        stage,
        done: BigInt(this.counts.get(stage)!.done),
        total: BigInt(this.counts.get(stage)!.total),
      }),
    );
    this.writing = this.write((e) => {
      e.stages = stages;
    })
      .then(() => undefined)
      .catch(() => {
        this.dirty = true;
      });
    await this.writing;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
