/** The results of an experiment as `ragtune results` prints them: a table for a person, or CSV / JSON for tools. */
import type { ResultRow } from "@ragtune/contracts/gateway";
import { methodLabel, rowsToCsv, rowsToJson } from "../reports/results-csv.js";

export const RESULT_FORMATS = ["table", "csv", "json"] as const;
export type ResultFormat = (typeof RESULT_FORMATS)[number];

export function formatResultsTable(rows: ResultRow[]): string {
  const lines = ["dataset      method  size  criterion      n   mean [95% CI]        Δ vs base [95% CI]"];
  for (const r of rows) {
    const s = r.score!;
    const diff =
      r.finetuneSize === 0
        ? ""
        : `${r.diffVsBase >= 0 ? "+" : ""}${r.diffVsBase.toFixed(2)} [${r.diffCi95Low.toFixed(2)}, ${r.diffCi95High.toFixed(2)}]`;
    lines.push(
      `${r.dataset.padEnd(12)} ${methodLabel(r).padEnd(7)} ${String(r.finetuneSize).padStart(4)}  ${r.criterion.padEnd(13)} ${String(s.n).padStart(4)}  ${s.mean.toFixed(2)} [${s.ci95Low.toFixed(2)}, ${s.ci95High.toFixed(2)}]  ${diff}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export function formatResults(experimentId: string, rows: ResultRow[], format: ResultFormat): string {
  switch (format) {
    case "table":
      return rows.length ? formatResultsTable(rows) : `experiment ${experimentId} has no finished cells yet\n`;
    case "csv":
      return rowsToCsv(rows);
    case "json":
      return `${JSON.stringify({ experimentId, rows: rowsToJson(rows) }, null, 2)}\n`;
  }
}
