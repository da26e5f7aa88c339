import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pairedBootstrap, spreadOf, tCritical95 } from "./statistics.js";

describe("spreadOf", () => {
  it("gives mean, sample sd and the t-interval", () => {
    const s = spreadOf([2, 4, 4, 4, 5, 5, 7, 9]);
    assert.equal(s.mean, 5);
    assert.ok(Math.abs(s.stddev - 2.138) < 1e-3);
    const half = (tCritical95(7) * s.stddev) / Math.sqrt(8);
    assert.ok(Math.abs(s.ci95High - (5 + half)) < 1e-12);
    assert.deepEqual(spreadOf([3]), { n: 1, mean: 3, stddev: 0, ci95Low: 3, ci95High: 3 });
  });
});

describe("pairedBootstrap", () => {
  it("centres on the mean paired difference and is reproducible for a seed", () => {
    const control = [4, 4, 5, 3, 4, 5, 4, 3, 4, 5];
    const treatment = control.map((c, i) => c - 1 + (i % 2) * 0.5);
    const a = pairedBootstrap(treatment, control, { seed: 7 });
    const b = pairedBootstrap(treatment, control, { seed: 7 });
    assert.deepEqual(a, b);
    assert.equal(a.meanDifference, -0.75);
    assert.ok(a.ci95Low < -0.75 && a.ci95High > -0.75 && a.ci95High < 0);
  });

  it("gives a zero-width interval when every pair differs by the same amount", () => {
    const r = pairedBootstrap([2, 3, 4], [1, 2, 3]);
    assert.deepEqual([r.meanDifference, r.ci95Low, r.ci95High], [1, 1, 1]);
  });
});
