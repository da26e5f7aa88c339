import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRandom } from "./statistics.js";
import { bootstrapMean, holmAdjust, pairedComparison, signFlipPValue } from "./statistics-paired.js";

const clamp = (v: number) => Math.min(5, Math.max(1, v));

/**
 * n questions with their own difficulty; each cell's per-question score is difficulty + the planted effect +
 * independent judge noise (the mean of 10 noisy repeats), kept on the 1–5 scale.
 */
function plantedCells(random: () => number, n: number, effect: number) {
  const noise = () => {
    let sum = 0;
    for (let r = 0; r < 10; r++) sum += (random() - 0.5) * 2 * 1.5; // uniform ±1.5 per repeat
    return sum / 10;
  };
  const base: number[] = [];
  const tuned: number[] = [];
  for (let i = 0; i < n; i++) {
    const difficulty = 1.5 + random() * 2.5;
    base.push(clamp(difficulty + noise() + (random() - 0.5)));
    tuned.push(clamp(difficulty + effect + noise() + (random() - 0.5)));
  }
  return { base, tuned };
}

describe("pairedComparison on planted effects", () => {
  it("rejects a planted zero difference at about the nominal 5% rate, and its interval covers 0 about 95% of the time", () => {
    const random = seededRandom(11);
    const runs = 300;
    let rejected = 0;
    let covered = 0;
    for (let run = 0; run < runs; run++) {
      const { base, tuned } = plantedCells(random, 40, 0);
      const r = pairedComparison(tuned, base, { seed: run, permutations: 1000, resamples: 1000 });
      if (r.pValue < 0.05) rejected++;
      if (r.ci95Low <= 0 && r.ci95High >= 0) covered++;
    }
    console.log(`planted 0: false-positive rate ${rejected / runs}, coverage ${covered / runs}`);
    // 300 runs: the binomial sd of a 5% rate is 1.3 points; the bounds are about ±2.5 sd.
    assert.ok(rejected / runs >= 0.02 && rejected / runs <= 0.085, `false-positive rate ${rejected / runs}`);
    assert.ok(covered / runs >= 0.9 && covered / runs <= 0.98, `coverage ${covered / runs}`);
  });

  it("finds a planted 0.5-point improvement", () => {
    const random = seededRandom(12);
    const runs = 100;
    let found = 0;
    for (let run = 0; run < runs; run++) {
      const { base, tuned } = plantedCells(random, 60, 0.5);
      const r = pairedComparison(tuned, base, { seed: run, permutations: 1000, resamples: 1000 });
      if (r.pValue < 0.05 && r.ci95Low > 0) found++;
      assert.ok(Math.abs(r.meanDifference - 0.5) < 0.3, `estimate ${r.meanDifference}`);
    }
    console.log(`planted 0.5: power ${found / runs}`);
    assert.ok(found / runs >= 0.95, `power ${found / runs}`);
  });

  it("is reproducible for a seed and reports the number of pairs", () => {
    const { base, tuned } = plantedCells(seededRandom(3), 30, 0.2);
    assert.deepEqual(pairedComparison(tuned, base, { seed: 5 }), pairedComparison(tuned, base, { seed: 5 }));
    assert.equal(pairedComparison(tuned, base).n, 30);
    assert.throws(() => pairedComparison([1], [1, 2]), /same length/);
  });
});

describe("signFlipPValue", () => {
  it("enumerates every sign pattern for small samples", () => {
    assert.equal(signFlipPValue([1, 1, 1, 1, 1]), 2 / 32);
    assert.equal(signFlipPValue([1, 2, 3]), 2 / 8); // only +++ and --- reach |6|
    assert.equal(signFlipPValue([0, 0, 0]), 1);
    assert.equal(signFlipPValue([1, -1]), 1);
  });

  it("never gives 0 by Monte Carlo", () => {
    const p = signFlipPValue(
      Array.from({ length: 40 }, () => 1),
      { permutations: 500, seed: 1 },
    );
    assert.equal(p, 1 / 501);
  });
});

describe("bootstrapMean", () => {
  it("stays on the scale at its edge without clipping", () => {
    const r = bootstrapMean([5, 5, 5, 4.8, 5], { range: [1, 5] });
    assert.ok(r.ci95High <= 5 && r.ci95Low >= 4.8);
    assert.equal(r.clipped, false);
  });

  it("clips a bound outside the given range and says so", () => {
    const r = bootstrapMean([0.1, 0.9, 0.2, 0.8], { range: [0.3, 1] });
    assert.equal(r.ci95Low, 0.3);
    assert.equal(r.clipped, true);
  });
});

describe("holmAdjust", () => {
  it("matches a hand-computed example", () => {
    // sorted: 0.005·4 = 0.02; 0.01·3 = 0.03; 0.03·2 = 0.06; 0.04·1 = 0.04 → raised to 0.06 (monotone)
    const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.005]);
    const expected = [0.03, 0.06, 0.06, 0.02];
    adjusted.forEach((p, i) => assert.ok(Math.abs(p - expected[i]) < 1e-12, `${p} vs ${expected[i]}`));
  });

  it("caps at 1 and keeps an empty family empty", () => {
    assert.deepEqual(holmAdjust([0.6, 0.5]), [1, 1]);
    assert.deepEqual(holmAdjust([]), []);
  });
});
