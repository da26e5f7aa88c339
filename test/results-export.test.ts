/**
 * The results a reviewer reads, through the gateway's gRPC API across every service: rows carry the paired n,
 * corrected p-values, the judge and the manifest; ExportAnswers streams every answer with its contexts and each
 * judge repeat, and a row's mean is recomputed from them.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type AnswerRecord, type Experiment, ExperimentService, ExperimentState } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import { createServiceClient } from "@ragtune/runtime";
import { readerExperimentSpec } from "./support/reader-experiment.js";
import { startTestStack, type TestStack } from "./support/stack.js";
import { writeSyntheticBioAsq } from "./support/synthetic-bioasq.js";

describe("results and answers through the gateway", () => {
  let stack: TestStack | undefined;
  let dataDir: string;
  before(async () => {
    stack = await startTestStack();
    dataDir = join(stack.dataDir, "bioasq");
    mkdirSync(dataDir, { recursive: true });
    writeSyntheticBioAsq(dataDir, 70);
  });
  after(async () => {
    await stack?.stop();
  });

  it("returns rows that say how they were made, and every answer behind them", async () => {
    const gateway = createServiceClient(
      ExperimentService,
      stack!.processes.find((p) => p.service.name === "gateway")!.url,
    );
    const spec = readerExperimentSpec({ name: "export", dataDir, sizes: [0, 30], seed: 5n });
    await gateway.createExperiment({ experimentId: "e2e-export", spec });
    await gateway.startExperiment({ experimentId: "e2e-export" });
    let final: Experiment | undefined;
    for await (const update of gateway.watchExperiment({ experimentId: "e2e-export" })) final = update.experiment!;
    assert.equal(final!.state, ExperimentState.SUCCEEDED, `${final!.error}\n${stack!.logs.slice(-30).join("\n")}`);

    const { rows } = await gateway.getResults({ experimentId: "e2e-export" });
    assert.equal(rows.length, 4, "2 cells × 2 criteria");
    for (const row of rows) {
      assert.equal(row.backend, "extractive");
      assert.equal(row.judgeMode, ScoringMode.REFERENCE);
      assert.equal(row.judgeModel, "reference-scorer");
      assert.equal(row.judgeRepeats, 1, "the reference scorer records one repeat");
      assert.equal(row.judgeMeanItemStddev, 0);
      assert.equal(row.failedRepeats, 0);
      assert.match(row.manifestSha256, /^[0-9a-f]{64}$/);
      assert.ok(row.score!.ci95Low >= 1 && row.score!.ci95High <= 5);
      if (row.finetuneSize > 0) {
        assert.equal(row.trainedOn, 30);
        assert.equal(row.pairedN, 20);
        assert.equal(row.holmFamilySize, 1);
        assert.ok(row.diffPValue > 0 && row.diffPValue <= 1);
        assert.equal(row.diffPHolm, row.diffPValue, "a family of one is not corrected");
      } else {
        assert.equal(row.pairedN, 0);
      }
    }

    const records: AnswerRecord[] = [];
    for await (const { record } of gateway.exportAnswers({ experimentId: "e2e-export" })) records.push(record!);
    assert.equal(records.length, 2 * 20, "every evaluation answer of both cells");
    for (const r of records) {
      assert.ok(r.question && r.answer, r.itemId);
      assert.ok(r.contexts.length > 0 && r.contexts[0].text, "the contexts the answer was generated from");
      assert.ok(r.referenceAnswers.length >= 1);
      assert.deepEqual(
        r.scores.map((s) => s.criterion),
        ["accuracy", "completeness"],
      );
      for (const s of r.scores) {
        assert.equal(s.repeats.length, 1);
        assert.ok(s.repeats[0].score >= 1 && s.repeats[0].score <= 5);
        assert.ok(s.repeats[0].rationale, "each repeat's rationale is kept");
      }
    }
    for (const row of rows) {
      const cell = records.filter((r) => r.finetuneSize === row.finetuneSize);
      const mean =
        cell.reduce((sum, r) => sum + r.scores.find((s) => s.criterion === row.criterion)!.spread!.mean, 0) /
        cell.length;
      assert.ok(Math.abs(mean - row.score!.mean) < 1e-9, `${row.finetuneSize}/${row.criterion}`);
    }
  });
});
