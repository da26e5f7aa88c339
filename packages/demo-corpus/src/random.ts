import { seededRandom } from "@ragtune/runtime";

/** Seeded choices for the generator: every draw comes from one stream, so a seed fixes every byte written. */
export interface Draw {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(values: readonly T[]): T;
  /** n distinct values, in drawn order. */
  sample<T>(values: readonly T[], n: number): T[];
  chance(p: number): boolean;
}

export function createDraw(seed: number): Draw {
  const next = seededRandom(seed);
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(values: readonly T[]) => values[Math.floor(next() * values.length)];
  return {
    next,
    int,
    pick,
    sample<T>(values: readonly T[], n: number) {
      const pool = [...values];
      const out: T[] = [];
      while (out.length < n && pool.length) out.push(pool.splice(Math.floor(next() * pool.length), 1)[0]);
      return out;
    },
    chance: (p: number) => next() < p,
  };
}

/** A hex id of the given length derived from the draw (ids look like the datasets' own, e.g. 24 or 40 hex digits). */
export function hexId(draw: Draw, length: number): string {
  let out = "";
  while (out.length < length)
    out += Math.floor(draw.next() * 0x10000)
      .toString(16)
      .padStart(4, "0");
  return out.slice(0, length);
}
