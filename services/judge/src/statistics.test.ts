import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  averageRanks,
  krippendorffAlphaInterval,
  rankFlipRate,
  spearman,
  spreadOf,
  tCritical95,
} from "./statistics.js";

const close = (actual: number, expected: number, eps = 1e-3) =>
  assert.ok(Math.abs(actual - expected) < eps, `${actual} is not within ${eps} of ${expected}`);

describe("spreadOf", () => {
  it("gives mean, sample sd and the Student-t interval", () => {
    const s = spreadOf([2, 4, 4, 4, 5, 5, 7, 9]);
    assert.equal(s.n, 8);
    close(s.mean, 5);
    close(s.stddev, 2.138); // sqrt(32/7)
    const half = (2.365 * Math.sqrt(32 / 7)) / Math.sqrt(8);
    close(s.ci95Low, 5 - half);
    close(s.ci95High, 5 + half);
  });
  it("collapses the interval for one value and zeroes an empty sample", () => {
    assert.deepEqual(spreadOf([3]), { n: 1, mean: 3, stddev: 0, ci95Low: 3, ci95High: 3 });
    assert.equal(spreadOf([]).n, 0);
  });
  it("interpolates t beyond the table and tends to 1.96", () => {
    close(tCritical95(9), 2.262);
    assert.ok(tCritical95(50) < 2.021 && tCritical95(50) > 2.0);
    close(tCritical95(100000), 1.96, 1e-3);
  });
});

describe("rank statistics", () => {
  it("averages tied ranks", () => {
    assert.deepEqual(averageRanks([10, 20, 20, 30]), [1, 2.5, 2.5, 4]);
  });
  it("spearman is 1 for a monotone relation and -1 for a reversed one", () => {
    close(spearman([1, 2, 3, 4], [1, 4, 9, 16]), 1);
    close(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
    assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
  });
});

describe("krippendorffAlphaInterval", () => {
  it("reproduces Krippendorff's worked example (interval α = 0.849)", () => {
    // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers, 12 units, missing data.
    const units = [
      [1, 1, 1],
      [2, 2, 3, 2],
      [3, 3, 3, 3],
      [3, 3, 3, 3],
      [2, 2, 2, 2],
      [1, 2, 3, 4],
      [4, 4, 4, 4],
      [1, 1, 2, 1],
      [2, 2, 2, 2],
      [5, 5, 5],
      [1, 1],
      [3],
    ];
    close(krippendorffAlphaInterval(units), 0.849);
  });
  it("is 1 for perfect agreement and NaN without variation", () => {
    close(
      krippendorffAlphaInterval([
        [1, 1],
        [3, 3],
        [5, 5],
      ]),
      1,
    );
    assert.ok(
      Number.isNaN(
        krippendorffAlphaInterval([
          [2, 2],
          [2, 2],
        ]),
      ),
    );
  });
});

describe("rankFlipRate", () => {
  it("counts pairs whose order swaps between repeats and skips ties and failures", () => {
    // Items a, b, c over two repeats: a<b in both, a<c flips, b<c flips.
    const result = rankFlipRate([
      [1, 3],
      [2, 4],
      [3, 2],
    ]);
    assert.equal(result.comparisons, 3);
    assert.equal(result.flips, 2);
    close(result.rate, 2 / 3);
    const withGaps = rankFlipRate([
      [1, undefined],
      [2, 2],
    ]);
    assert.equal(withGaps.comparisons, 0);
    assert.ok(Number.isNaN(withGaps.rate));
  });
  it("samples item pairs past the cap, reproducibly", () => {
    const scores = Array.from({ length: 300 }, (_, i) => [i % 5, (i * 7) % 5]);
    const a = rankFlipRate(scores, 1000);
    const b = rankFlipRate(scores, 1000);
    assert.deepEqual(a, b);
    assert.ok(a.comparisons <= 1000 && a.comparisons > 0);
  });
});
