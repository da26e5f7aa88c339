/** The progress a person following a run sees, on a terminal and in a log, driven by a clock the test moves. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ExperimentSchema, ExperimentState } from "@ragtune/contracts/gateway";
import { createProgressView, formatDuration, formatRate } from "./progress-view.js";

function harness(isTTY: boolean) {
  let now = Date.parse("2026-01-01T10:00:00Z");
  let text = "";
  const view = createProgressView(
    {
      isTTY,
      columns: 120,
      write: (t: string) => {
        text += t;
      },
    },
    { everyMs: 10_000, now: () => now },
  );
  const state = (cellsDone: number, currentStage: string, stages: Record<string, [number, number]> = {}) =>
    create(ExperimentSchema, {
      cellsDone,
      cellsTotal: 8,
      currentStage,
      state: ExperimentState.RUNNING,
      stages: Object.entries(stages).map(([stage, [done, total]]) => ({
        stage,
        done: BigInt(done),
        total: BigInt(total),
      })),
    });
  return {
    view,
    state,
    advance: (ms: number) => {
      now += ms;
    },
    output: () => text,
  };
}

describe("progress view", () => {
  it("on a terminal: one bar per stage with items done/total, rate and ETA, the block redrawn in place", () => {
    const h = harness(true);
    h.view.update(h.state(2, "generate and judge bio.base", { retrieve: [200, 200], generate: [100, 600] }));
    h.advance(10_000);
    h.view.update(h.state(2, "generate and judge bio.base", { retrieve: [200, 200], generate: [150, 600] }));
    h.advance(10_000);
    h.view.update(
      h.state(3, "generate and judge bio.base", { retrieve: [200, 200], generate: [200, 600], judge: [50, 600] }),
    );
    h.view.close();
    const out = h.output();
    const frames = out.split("\r").slice(1);
    assert.equal(frames.length, 4, out); // three updates and the last draw at close
    // First frame: no rate yet.
    assert.match(frames[0], /generate \[###\.{17}\] 100\/600 {2}–\/s {2}ETA –/);
    assert.match(frames[0], /retrieve \[#{20}\] 200\/200 {2}–\/s {2}done/);
    // 100 answers in 20 s while following: 5/s, 400 left → 80 s.
    assert.match(frames[2], /generate \[#{7}\.{13}\] 200\/600 {2}5\.0\/s {2}ETA 1m20s/);
    assert.match(frames[2], /judge {4}\[#{2}\.{18}\] 50\/600 {2}–\/s {2}ETA –/);
    assert.ok(frames[1].endsWith("\x1b[2A"), "the three-line block is redrawn from its first line");
    assert.ok(frames[2].endsWith("\x1b[3A"), "and the four-line block too");
    assert.ok(frames[2].startsWith("\x1b[2Kgenerate and judge bio.base  3/8 cells  (stage 20s)\n"), frames[2]);
    assert.ok(out.endsWith("\n"), "the last line is ended");
  });

  it("in a log: plain timestamped lines at stage changes, finished cells and every interval, never redrawn", () => {
    const h = harness(false);
    h.view.update(h.state(0, "prepare bio: load, split, index, retrieve", { retrieve: [0, 300] }));
    h.advance(4000);
    h.view.update(h.state(0, "prepare bio: load, split, index, retrieve", { retrieve: [100, 300] }));
    h.view.tick(); // too soon for the periodic line
    h.advance(6000);
    h.view.tick(); // 10 s after the last lines
    h.advance(30_000);
    h.view.update(h.state(1, "generate and judge bio.base", { retrieve: [300, 300], generate: [20, 40] }));
    h.advance(1000);
    h.view.update(h.state(1, "generate and judge bio.base", { retrieve: [300, 300], generate: [40, 40] }));
    h.view.close();
    const out = h.output();
    assert.ok(!out.includes("\r") && !out.includes("\u001b"), "no redraws in a log");
    assert.deepEqual(out.trimEnd().split("\n"), [
      "10:00:00 prepare bio: load, split, index, retrieve  0/8 cells  (stage 0s)",
      "10:00:00   retrieve 0/300  –/s  ETA –",
      "10:00:10 prepare bio: load, split, index, retrieve  0/8 cells  (stage 10s)",
      "10:00:10   retrieve 100/300  10/s  ETA 20s",
      "10:00:40 generate and judge bio.base  1/8 cells  (stage 0s)",
      "10:00:40   retrieve 300/300  7.5/s  done",
      "10:00:40   generate 20/40  –/s  ETA –",
      // Closing prints the counts the run ended with, not yet printed.
      "10:00:41 generate and judge bio.base  1/8 cells  (stage 1s)",
      "10:00:41   retrieve 300/300  7.3/s  done",
      "10:00:41   generate 40/40  20/s  done",
    ]);
  });

  it("formats durations and rates", () => {
    assert.equal(formatDuration(0), "0s");
    assert.equal(formatDuration(59_400), "59s");
    assert.equal(formatDuration(61_000), "1m01s");
    assert.equal(formatDuration(3_725_000), "1h02m");
    assert.equal(formatRate(0), "–/s");
    assert.equal(formatRate(2.5), "2.5/s");
    assert.equal(formatRate(25), "25/s");
    assert.equal(formatRate(0.05), "3.0/min");
  });
});
