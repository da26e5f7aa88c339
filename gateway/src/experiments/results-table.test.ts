import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod, ModelRefSchema } from "@ragtune/contracts/common";
import { ScoringMode } from "@ragtune/contracts/judge";
import { holmAdjust, seededRandom } from "@ragtune/runtime";
import type { CellResult } from "./cell-results.js";
import { buildResultRows } from "./results-table.js";

const random = seededRandom(21);
const items = Array.from({ length: 80 }, (_, i) => `q${i}`);
const difficulty = new Map(items.map((id) => [id, 1.5 + random() * 2.5]));

/** A cell whose per-question accuracy is the question's difficulty + effect + noise, on the 1–5 scale. */
function cell(size: number, effect: number, extra: Partial<CellResult> = {}): CellResult {
  const scores: CellResult["scores"] = {};
  for (const id of items) {
    const v = difficulty.get(id)! + effect + (random() - 0.5) * 1.2;
    scores[id] = { accuracy: Math.min(5, Math.max(1, v)) };
  }
  return {
    cellKey: `bioasq.m0.${size}`,
    dataset: "bioasq",
    baseModel: "llama",
    modelIndex: 0,
    method: size ? FineTuneMethod.LORA : FineTuneMethod.UNSPECIFIED,
    size,
    trainedOn: size ? size - 3 : 0,
    hyperparametersIndex: 0,
    adapterId: size ? `a${size}` : "",
    executor: size ? "peft" : "",
    scores,
    failedRepeats: { accuracy: size === 500 ? 4 : 0 },
    generationLatencySeconds: 0,
    outputTokens: 0,
    finishTime: "",
    manifestSha256: "ab12",
    judge: { accuracy: { mode: ScoringMode.LOGPROB_WEIGHTED, model: "judge-x", meanItemStddev: 0.3, meanRepeats: 10 } },
    ...extra,
  };
}

describe("buildResultRows", () => {
  const spec = {
    criteria: ["accuracy"],
    seed: 4n,
    baseModels: [create(ModelRefSchema, { baseModel: "llama", backend: "openai" })],
  };
  // A planted 0.5-point gain at 200 and none at 500; the base cell's question 0 was never scored by the 500 cell.
  const tuned500 = cell(500, 0);
  delete tuned500.scores.q0;
  const rows = buildResultRows([tuned500, cell(0, 0), cell(200, 0.5)], spec);
  const [base, at200, at500] = rows;

  it("orders rows base first and keeps the scale in every interval", () => {
    assert.deepEqual(
      rows.map((r) => r.finetuneSize),
      [0, 200, 500],
    );
    for (const r of rows) assert.ok(r.score!.ci95Low >= 1 && r.score!.ci95High <= 5 && !r.intervalClipped);
  });

  it("finds the planted gain and not the planted zero, on the paired questions only", () => {
    assert.equal(at200.pairedN, 80);
    assert.equal(at500.pairedN, 79);
    assert.ok(at200.diffCi95Low > 0.3 && at200.diffCi95High < 0.7, `${at200.diffCi95Low}..${at200.diffCi95High}`);
    assert.ok(at200.diffPHolm < 0.01);
    assert.ok(at500.diffPValue > 0.05, `p ${at500.diffPValue}`);
    assert.equal(base.pairedN, 0);
    assert.equal(base.diffPHolm, 1);
  });

  it("Holm-corrects within the dataset × model × criterion family", () => {
    const adjusted = holmAdjust([at200.diffPValue, at500.diffPValue]);
    assert.deepEqual([at200.diffPHolm, at500.diffPHolm], adjusted);
    assert.equal(at200.holmFamilySize, 2);
    assert.ok(at200.diffPHolm >= at200.diffPValue);
  });

  it("says what produced each row", () => {
    assert.equal(at200.trainedOn, 197);
    assert.equal(at200.backend, "openai");
    assert.equal(at200.judgeMode, ScoringMode.LOGPROB_WEIGHTED);
    assert.equal(at200.judgeModel, "judge-x");
    assert.equal(at200.judgeMeanItemStddev, 0.3);
    assert.equal(at200.judgeRepeats, 10);
    assert.equal(at500.failedRepeats, 4);
    assert.equal(at200.manifestSha256, "ab12");
  });
});
