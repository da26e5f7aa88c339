import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ExperimentSchema, ExperimentState } from "@ragtune/contracts/gateway";
import type { CellResult, CellResultStore } from "../experiments/cell-results.js";
import { createMemoryExperimentStore } from "../experiments/experiment-store.js";
import { statusLines } from "../cli/experiment-commands.js";
import { timeBreakdownHtml } from "../reports/time-breakdown-view.js";
import { parseStage, TimeBreakdownRecorder, timedCellStore, timedExperimentStore } from "./time-breakdown.js";

test("stage announcements are parsed into kind, cell and job", () => {
  assert.deepEqual(parseStage("prepare bioasq: load, split, index, retrieve"), { stage: "prepare", subject: "bioasq" });
  assert.deepEqual(parseStage("fine-tune bioasq.m0.lora-200-h0 (job e1.bioasq.m0.lora-200-h0)"), {
    stage: "fine-tune",
    subject: "bioasq.m0.lora-200-h0",
    jobId: "e1.bioasq.m0.lora-200-h0",
  });
  assert.deepEqual(parseStage("generate and judge bioasq.m0.base"), {
    stage: "generate and judge",
    subject: "bioasq.m0.base",
  });
  assert.equal(parseStage("something else"), undefined);
});

test("stages announced through the store add up per stage and per cell, with the job's queue wait", async () => {
  let now = 0;
  const recorder = new TimeBreakdownRecorder({ now: () => now * 1000, queueWait: async () => 30 });
  const store = createMemoryExperimentStore();
  await store.insert(create(ExperimentSchema, { experimentId: "e1", state: ExperimentState.RUNNING, cellsTotal: 2 }));
  const put: string[] = [];
  const cellsInner = {
    put: async (_id: string, r: CellResult) => void put.push(r.cellKey),
  } as unknown as CellResultStore;
  const timed = timedExperimentStore(store, recorder);
  const cells = timedCellStore(cellsInner, recorder);
  const stage = (text: string) =>
    timed.update("e1", (e) => {
      e.currentStage = text;
    });
  const finish = (cellKey: string) => cells.put("e1", { cellKey } as CellResult);

  await stage("prepare bioasq: load, split, index, retrieve");
  now = 100;
  await stage("generate bioasq.m0.base"); // ends the preparation (100 s)
  await stage("generate bioasq.m0.base"); // the same stage again is not a new one
  now = 160;
  await stage("judge bioasq.m0.base");
  now = 200;
  await finish("bioasq.m0.base"); // generate 60 s, judge 40 s
  await stage("fine-tune bioasq.m0.lora-200-h0 (job e1.bioasq.m0.lora-200-h0)");
  now = 500;
  await stage("generate bioasq.m0.lora-200-h0");
  now = 550;
  await finish("bioasq.m0.lora-200-h0"); // fine-tune 300 s (30 of them queued), generate 50 s
  const experiment = await timed.update("e1", (e) => {
    e.cellsDone = 2;
  });

  assert.deepEqual(put, ["bioasq.m0.base", "bioasq.m0.lora-200-h0"], "cells are still stored");
  const breakdown = experiment.timeBreakdown!;
  const stages = Object.fromEntries(breakdown.stages.map((s) => [s.stage, [s.seconds, s.count]]));
  assert.deepEqual(stages, { prepare: [100, 1], generate: [110, 2], judge: [40, 1], "fine-tune": [300, 1] });
  assert.equal(breakdown.queueWaitSeconds, 30);
  assert.deepEqual(
    breakdown.slowestCells.map((c) => [c.cellKey, c.seconds, c.queueSeconds]),
    [
      ["bioasq.m0.lora-200-h0", 350, 30],
      ["bioasq.m0.base", 100, 0],
    ],
  );

  // What `ragtune status` and the report show from it.
  const lines = statusLines(experiment).join("\n");
  assert.match(lines, /fine-tune\s+5\.0 min\s+55%\s+\(1\)/);
  assert.match(lines, /prepare\s+100 s\s+18%/);
  assert.match(lines, /waiting for a GPU\s+30 s/);
  assert.match(lines, /bioasq\.m0\.lora-200-h0 {2}5\.8 min \(fine-tune 5\.0 min, generate 50 s, queued 30 s\)/);
  const html = timeBreakdownHtml(experiment);
  assert.match(html, /<h2>Where the time went<\/h2>/);
  assert.match(html, /<td>judge<\/td><td>40 s<\/td><td>7%<\/td>/);
});
