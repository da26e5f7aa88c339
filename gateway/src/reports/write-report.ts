import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Experiment, ResultRow } from "@ragtune/contracts/gateway";
import { renderReportHtml } from "./report-html.js";
import { rowsToCsv, rowsToJson } from "./results-csv.js";

/** Writes results.csv, results.json and report.html for an experiment; returns their paths. */
export async function writeReport(dir: string, experiment: Experiment, rows: ResultRow[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: Array<[string, string]> = [
    ["results.csv", rowsToCsv(rows)],
    ["results.json", `${JSON.stringify({ experimentId: experiment.experimentId, rows: rowsToJson(rows) }, null, 2)}\n`],
    ["report.html", renderReportHtml(experiment, rows)],
  ];
  for (const [name, content] of files) await writeFile(join(dir, name), content);
  return files.map(([name]) => join(dir, name));
}
