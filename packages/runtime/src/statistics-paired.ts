/**
 * Paired comparison of a fine-tuned model with its base on the same questions: the mean difference with a
 * bootstrap percentile interval kept inside the possible range, a sign-flip permutation p-value, and Holm's
 * correction over a family of such tests. Everything sampled is seeded, so a report repeats run to run.
 */
import { seededRandom } from "./statistics.js";

export interface BootstrapInterval {
  n: number;
  mean: number;
  /** 2.5th and 97.5th percentiles of the bootstrap distribution of the mean. */
  ci95Low: number;
  ci95High: number;
  /** True when a bound fell outside the possible range and was moved onto it (the report says so). */
  clipped: boolean;
}

export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
  /** Smallest and largest value the mean can take (e.g. [1, 5] for a score, [-4, 4] for a difference of scores). */
  range?: readonly [number, number];
}

/**
 * Percentile bootstrap of a mean. A percentile interval lies within the sample's own range, so it stays on the
 * scale by construction (unlike a t-interval near 1 or 5); the range is enforced anyway and any clipping flagged.
 */
export function bootstrapMean(values: readonly number[], options: BootstrapOptions = {}): BootstrapInterval {
  const n = values.length;
  if (n === 0) return { n: 0, mean: 0, ci95Low: 0, ci95High: 0, clipped: false };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const resamples = options.resamples ?? 2000;
  const random = seededRandom(options.seed ?? 0);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[Math.floor(random() * n)];
    means[r] = sum / n;
  }
  means.sort();
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  let ci95Low = at(0.025);
  let ci95High = at(0.975);
  let clipped = false;
  if (options.range) {
    const [lo, hi] = options.range;
    if (ci95Low < lo || ci95High > hi) clipped = true;
    ci95Low = Math.min(hi, Math.max(lo, ci95Low));
    ci95High = Math.min(hi, Math.max(lo, ci95High));
  }
  return { n, mean, ci95Low, ci95High, clipped };
}

/** Exact enumeration of all sign patterns up to this many non-zero differences; Monte Carlo beyond. */
const EXACT_MAX_NONZERO = 14;

/**
 * Two-sided sign-flip permutation test of a zero mean paired difference. Under the null each difference is as
 * likely to have either sign, so flipping signs gives the null distribution of the mean. Monte Carlo p-values
 * count the observed pattern as one of the draws ((1 + hits) / (1 + draws)), so they are never 0.
 */
export function signFlipPValue(differences: readonly number[], options: { permutations?: number; seed?: number } = {}) {
  const nonzero = differences.filter((d) => d !== 0);
  const m = nonzero.length;
  if (m === 0) return 1;
  const observed = Math.abs(nonzero.reduce((a, b) => a + b, 0));
  // Sums that equal the observed one up to rounding count as "as extreme".
  const threshold = observed - 1e-9 * Math.max(1, observed);
  if (m <= EXACT_MAX_NONZERO) {
    let hits = 0;
    const patterns = 2 ** m;
    for (let mask = 0; mask < patterns; mask++) {
      let sum = 0;
      for (let i = 0; i < m; i++) sum += mask & (1 << i) ? -nonzero[i] : nonzero[i];
      if (Math.abs(sum) >= threshold) hits++;
    }
    return hits / patterns;
  }
  const draws = options.permutations ?? 5000;
  const random = seededRandom(options.seed ?? 0);
  let hits = 0;
  for (let r = 0; r < draws; r++) {
    let sum = 0;
    for (let i = 0; i < m; i++) sum += random() < 0.5 ? -nonzero[i] : nonzero[i];
    if (Math.abs(sum) >= threshold) hits++;
  }
  return (1 + hits) / (1 + draws);
}

export interface PairedComparison {
  /** Pairs: questions scored in both cells. */
  n: number;
  /** Mean of treatment − control over the pairs. */
  meanDifference: number;
  ci95Low: number;
  ci95High: number;
  /** True when an interval bound was clipped to the possible range. */
  clipped: boolean;
  /** Two-sided sign-flip permutation p-value, uncorrected. */
  pValue: number;
}

/**
 * Paired difference of two cells on the same questions. scaleRange is the score scale ([1, 5]); the difference
 * then lies in [lo − hi, hi − lo].
 */
export function pairedComparison(
  treatment: readonly number[],
  control: readonly number[],
  options: { seed?: number; resamples?: number; permutations?: number; scaleRange?: readonly [number, number] } = {},
): PairedComparison {
  if (treatment.length !== control.length) throw new RangeError("paired samples must have the same length");
  const differences = treatment.map((t, i) => t - control[i]);
  const [lo, hi] = options.scaleRange ?? [1, 5];
  const interval = bootstrapMean(differences, {
    seed: options.seed,
    resamples: options.resamples,
    range: [lo - hi, hi - lo],
  });
  return {
    n: interval.n,
    meanDifference: interval.mean,
    ci95Low: interval.ci95Low,
    ci95High: interval.ci95High,
    clipped: interval.clipped,
    pValue: signFlipPValue(differences, { seed: options.seed, permutations: options.permutations }),
  };
}

/**
 * Holm's step-down correction of a family of p-values, returned in the input order: the i-th smallest is
 * multiplied by (m − i), kept monotone and capped at 1. It controls the family-wise error rate at any
 * dependence between the tests (the fine-tune sizes of one model share its base cell).
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(([p, index], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[index] = running;
  });
  return adjusted;
}
