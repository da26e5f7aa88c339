/** The progress a person following a run sees, on a terminal and in a log, driven by a clock the test moves. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ExperimentSchema, ExperimentState } from "@ragtune/contracts/gateway";
import { createProgressView, formatDuration } from "./progress-view.js";

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
  const state = (cellsDone: number, currentStage: string) =>
    create(ExperimentSchema, { cellsDone, cellsTotal: 8, currentStage, state: ExperimentState.RUNNING });
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
  it("on a terminal: redraws the stage's line in place with a bar, counts, rate and ETA; one line per stage", () => {
    const h = harness(true);
    h.view.update(h.state(2, "generate bio.base")); // resumed: 2 cells were done before following
    h.advance(60_000);
    h.view.update(h.state(3, "generate bio.base"));
    h.advance(1000);
    h.view.tick();
    h.view.update(h.state(3, "fine-tune bio.lora-200"));
    h.view.close();
    const out = h.output();
    const redraws = out.split("\r\x1b[2K").slice(1);
    assert.ok(redraws.length >= 4, out);
    // 1 cell in the first minute of following: 1 cell/min, 5 cells left → ETA 5 min.
    assert.match(
      redraws[1],
      /^generate bio\.base {2}\[#####\.{7}\] 3\/8 cells {2}1\.0\/min {2}ETA 5m00s {2}\(stage 1m00s\)$/,
    );
    assert.ok(
      out.includes("(stage 1m01s)\n\r\u001b[2Kfine-tune bio.lora-200  [###"),
      "the finished stage keeps its line",
    );
    assert.ok(out.endsWith("\n"), "the last line is ended");
    // No rate before any cell finished while following.
    assert.match(redraws[0], /2\/8 cells {2}–\/min {2}ETA –/);
  });

  it("in a log: plain timestamped lines at stage changes, finished cells and every interval, never redrawn", () => {
    const h = harness(false);
    h.view.update(h.state(0, "prepare bio: load, split, index, retrieve"));
    h.advance(4000);
    h.view.tick(); // too soon for the periodic line
    h.advance(7000);
    h.view.tick(); // 11 s after the last line
    h.view.update(h.state(0, "prepare bio: load, split, index, retrieve")); // nothing new: no line
    h.advance(30_000);
    h.view.update(h.state(1, "generate bio.base"));
    h.view.close();
    const lines = h.output().trimEnd().split("\n");
    assert.ok(!h.output().includes("\r") && !h.output().includes("\u001b"), "no redraws in a log");
    assert.deepEqual(
      lines.map((l) => l.replace(/ {2}.*/, "")),
      [
        "10:00:00 prepare bio: load, split, index, retrieve",
        "10:00:11 prepare bio: load, split, index, retrieve",
        "10:00:41 generate bio.base",
      ],
    );
    assert.match(lines[2], /1\/8 cells {2}1\.5\/min {2}ETA 4m47s/);
  });

  it("formats durations", () => {
    assert.equal(formatDuration(0), "0s");
    assert.equal(formatDuration(59_400), "59s");
    assert.equal(formatDuration(61_000), "1m01s");
    assert.equal(formatDuration(3_725_000), "1h02m");
  });
});
