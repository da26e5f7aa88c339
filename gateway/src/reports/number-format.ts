/** How every report writes a score, a difference and a p-value, so terminal, HTML and LaTeX agree. */
import type { ResultRow } from "@ragtune/contracts/gateway";

export const fixed2 = (v: number) => v.toFixed(2);

export function signed(v: number): string {
  return `${v >= 0 ? "+" : "-"}${Math.abs(v).toFixed(2)}`;
}

/** "3.21 [3.02, 3.40]" */
export function scoreWithInterval(row: ResultRow): string {
  const s = row.score!;
  return `${fixed2(s.mean)} [${fixed2(s.ci95Low)}, ${fixed2(s.ci95High)}]`;
}

/** A row compared with its base: a fine-tuned row with at least one question scored in both cells. */
export const isPaired = (row: ResultRow) => row.finetuneSize > 0 && row.pairedN > 0;

/** "+0.42 [0.21, 0.63]"; a fine-tuned row without a base cell to pair with says so. */
export function diffWithInterval(row: ResultRow): string {
  if (!isPaired(row)) return row.finetuneSize > 0 ? "no paired base" : "";
  return `${signed(row.diffVsBase)} [${fixed2(row.diffCi95Low)}, ${fixed2(row.diffCi95High)}]`;
}

/** p-values to three decimals, small ones as "<0.001". */
export function pValue(p: number): string {
  return p < 0.001 ? "<0.001" : p.toFixed(3);
}

/** The corrected-test significance mark used in every table: the Holm-corrected p below 0.05. */
export const significant = (row: ResultRow) => isPaired(row) && row.diffPHolm < 0.05;
