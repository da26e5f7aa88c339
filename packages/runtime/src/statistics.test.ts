import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { spreadOf, tCritical95 } from "./statistics.js";

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
