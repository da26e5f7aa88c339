/** Statistics shared by the services: spread of a sample with its t-interval (judge repeats), and a seeded PRNG. Paired comparisons: statistics-paired.ts. */

export interface SpreadStats {
  n: number;
  mean: number;
  stddev: number;
  ci95Low: number;
  ci95High: number;
}

// Two-sided 95% Student t critical values, df 1..30.
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
// Beyond 30: tabulated points, interpolated linearly in 1/df (the t quantile is close to linear in 1/df there).
const T95_TAIL: ReadonlyArray<[number, number]> = [
  [30, 2.042],
  [40, 2.021],
  [60, 2.0],
  [120, 1.98],
  [Number.POSITIVE_INFINITY, 1.96],
];

/** Two-sided 95% critical value of Student's t with df degrees of freedom. */
export function tCritical95(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`df must be a positive integer, got ${df}`);
  if (df <= 30) return T95[df - 1];
  for (let i = 1; i < T95_TAIL.length; i++) {
    const [hiDf, hiT] = T95_TAIL[i];
    if (df <= hiDf) {
      const [loDf, loT] = T95_TAIL[i - 1];
      const w = (1 / loDf - 1 / df) / (1 / loDf - 1 / hiDf);
      return loT + w * (hiT - loT);
    }
  }
  return 1.96;
}

/** Mean, sample standard deviation and t-interval of the mean; an empty sample gives n = 0 and zeros. */
export function spreadOf(values: readonly number[]): SpreadStats {
  const n = values.length;
  if (n === 0) return { n: 0, mean: 0, stddev: 0, ci95Low: 0, ci95High: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, stddev: 0, ci95Low: mean, ci95High: mean };
  const variance = values.reduce((acc, v) => acc + (v - mean) ** 2, 0) / (n - 1);
  const stddev = Math.sqrt(variance);
  const half = (tCritical95(n - 1) * stddev) / Math.sqrt(n);
  return { n, mean, stddev, ci95Low: mean - half, ci95High: mean + half };
}

/** Mulberry32: a small seeded PRNG, so whatever is sampled (bootstrap intervals, training, test data) repeats run to run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
