/** Statistics of repeated judge scores: spread per answer, rank agreement and reliability across judges. */

import { seededRandom } from "@ragtune/runtime";

// Spread and t-intervals are shared with the gateway's results table.
export { type SpreadStats, spreadOf, tCritical95 } from "@ragtune/runtime";

/** Ranks from 1, ties sharing their average rank. */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1][0] === order[start][0]) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k][1]] = rank;
    start = end + 1;
  }
  return ranks;
}

/** Pearson correlation; NaN when either side has no variance or fewer than 2 points. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError("pearson: samples differ in length");
  const n = x.length;
  if (n < 2) return Number.NaN;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  if (sxx === 0 || syy === 0) return Number.NaN;
  return sxy / Math.sqrt(sxx * syy);
}

/** Spearman's ρ: Pearson on average ranks, so ties are handled. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(averageRanks(x), averageRanks(y));
}

/**
 * Krippendorff's α with the interval metric. `units[u]` holds the values the coders gave unit u (missing
 * values simply left out); units with fewer than two values are not pairable and are ignored.
 * α = 1 − D_o / D_e; NaN when there is no expected disagreement (every value equal) or too few values.
 */
export function krippendorffAlphaInterval(units: ReadonlyArray<readonly number[]>): number {
  const pairable = units.filter((u) => u.length >= 2);
  const all = pairable.flat();
  const n = all.length;
  if (n < 2) return Number.NaN;
  let observed = 0;
  for (const unit of pairable) {
    let sum = 0;
    for (let i = 0; i < unit.length; i++) for (let j = 0; j < unit.length; j++) sum += (unit[i] - unit[j]) ** 2;
    observed += sum / (unit.length - 1);
  }
  observed /= n;
  // Σ_{i≠j} (v_i − v_j)² = 2n·Σ v² − 2(Σ v)², without the O(n²) double loop.
  const sum = all.reduce((a, b) => a + b, 0);
  const sumSq = all.reduce((a, b) => a + b * b, 0);
  const expected = (2 * n * sumSq - 2 * sum * sum) / (n * (n - 1));
  if (expected <= 0) return Number.NaN;
  return 1 - observed / expected;
}

export interface RankFlipResult {
  /** Flipped pairs / pairs strictly ordered in both repeats; NaN when no pair was comparable. */
  rate: number;
  /** Item-pair × repeat-pair comparisons that were strictly ordered in both repeats. */
  comparisons: number;
  flips: number;
}

/**
 * How often two items swap order between two repeats of the same judge. `scores[item][repeat]` is a score or
 * undefined (failed repeat). Every pair of repeats and every pair of items is compared, except that past
 * `maxItemPairs` item pairs a fixed, seeded sample of that many is used (a 10,000-item batch has 5·10⁷ pairs).
 */
export function rankFlipRate(
  scores: ReadonlyArray<ReadonlyArray<number | undefined>>,
  maxItemPairs = 200_000,
): RankFlipResult {
  const items = scores.length;
  const repeats = Math.max(0, ...scores.map((s) => s.length));
  const totalPairs = (items * (items - 1)) / 2;
  const pairs: Array<[number, number]> = [];
  if (totalPairs <= maxItemPairs) {
    for (let a = 0; a < items; a++) for (let b = a + 1; b < items; b++) pairs.push([a, b]);
  } else {
    const random = seededRandom(0x5eed);
    while (pairs.length < maxItemPairs) {
      const a = Math.floor(random() * items);
      const b = Math.floor(random() * items);
      if (a !== b) pairs.push(a < b ? [a, b] : [b, a]);
    }
  }
  let comparisons = 0;
  let flips = 0;
  for (let r = 0; r < repeats; r++) {
    for (let s = r + 1; s < repeats; s++) {
      for (const [a, b] of pairs) {
        const ar = scores[a][r];
        const br = scores[b][r];
        const as = scores[a][s];
        const bs = scores[b][s];
        if (ar === undefined || br === undefined || as === undefined || bs === undefined) continue;
        const first = Math.sign(ar - br);
        const second = Math.sign(as - bs);
        if (first === 0 || second === 0) continue;
        comparisons++;
        if (first !== second) flips++;
      }
    }
  }
  return { rate: comparisons ? flips / comparisons : Number.NaN, comparisons, flips };
}
