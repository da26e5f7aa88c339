/**
 * Proof that the pipeline finds what is there, and only that: a few seeded experiments across the real processes
 * (see support/known-effect.ts) with a planted difference of 0.5 points for one fine-tune and none for the other.
 * The thresholds leave room for chance in a handful of runs but fail a pipeline that cannot find the effect,
 * finds one where there is none, or reports intervals that miss the truth; `npm run bench` in test/ runs the long
 * version and prints the rates.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ALPHA,
  benchLine,
  KNOWN_EFFECT_DESIGN,
  KNOWN_EFFECT_QUESTIONS,
  type KnownEffectSummary,
  runKnownEffect,
} from "./support/known-effect.js";
import { type PlantedStack, startPlantedStack } from "./support/planted-stack.js";

describe("known-effect check across every service", () => {
  let planted: PlantedStack;
  let summary: KnownEffectSummary;

  before(async () => {
    planted = await startPlantedStack({ questions: KNOWN_EFFECT_QUESTIONS });
    summary = await runKnownEffect(planted, {
      ...KNOWN_EFFECT_DESIGN,
      runs: 3,
      firstSeed: 101,
      onRun: (line) => console.log(line),
    });
    console.log(benchLine(summary));
  });
  after(async () => {
    await planted?.stop();
  });

  it("reads a paired difference of every tuned row over every evaluation question", () => {
    assert.equal(summary.rows.length, 3 * 2 * 2, "3 runs × 2 fine-tunes × 2 criteria");
    for (const row of summary.rows) assert.equal(row.pairedN, KNOWN_EFFECT_DESIGN.evalSize);
  });

  it("finds a planted difference of 0.5 points", () => {
    const effects = summary.rows.filter((r) => r.planted > 0);
    const found = effects.filter((r) => r.pHolm < ALPHA && r.diff > 0);
    assert.ok(found.length >= 4, `found in ${found.length} of ${effects.length} rows`);
  });

  it("rejects no planted zero more often than chance at the corrected level allows", () => {
    const nulls = summary.rows.filter((r) => r.planted === 0);
    const rejected = nulls.filter((r) => r.pHolm < ALPHA);
    assert.ok(rejected.length <= 1, `rejected ${rejected.length} of ${nulls.length} rows with no effect`);
  });

  it("reports intervals that hold the planted difference", () => {
    assert.ok(summary.coverage >= 0.75, `coverage ${summary.coverage}`);
  });
});
