/** The results of an experiment as `ragtune results` prints them: a table for a person, or CSV, JSON or LaTeX. */
import type { Experiment, ResultRow } from "@ragtune/contracts/gateway";
import { rowsToCsv, rowsToJson } from "../reports/results-csv.js";
import { rowsToLatex } from "../reports/results-latex.js";
import { formatResultsTable } from "../reports/results-terminal.js";

export const RESULT_FORMATS = ["table", "csv", "json", "latex"] as const;
export type ResultFormat = (typeof RESULT_FORMATS)[number];

export function formatResults(experiment: Experiment, rows: ResultRow[], format: ResultFormat): string {
  switch (format) {
    case "table":
      return rows.length
        ? formatResultsTable(rows)
        : `experiment ${experiment.experimentId} has no finished cells yet\n`;
    case "csv":
      return rowsToCsv(rows);
    case "json":
      return `${JSON.stringify({ experimentId: experiment.experimentId, rows: rowsToJson(rows) }, null, 2)}\n`;
    case "latex":
      return rowsToLatex(experiment, rows);
  }
}
