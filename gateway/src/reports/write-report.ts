import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { toJsonString } from "@bufbuild/protobuf";
import { type AnswerRecord, AnswerRecordSchema, type Experiment, type ResultRow } from "@ragtune/contracts/gateway";
import { renderReportHtml } from "./report-html.js";
import { rowsToCsv, rowsToJson } from "./results-csv.js";
import { rowsToLatex } from "./results-latex.js";
import { experimentStateName, reportStatements } from "./run-labels.js";

export interface ReportOptions {
  /** Plain statements about the run (e.g. that it used the fictional demo corpus), shown at the top of each file. */
  about?: readonly string[];
  /** Every answer of the run (ExportAnswers' stream), written one per line to answers.jsonl. */
  answers?: AsyncIterable<{ record?: AnswerRecord }>;
}

/** Streams answers into answers.jsonl, so a large run never holds them all in memory; returns how many. */
async function writeAnswers(path: string, answers: AsyncIterable<{ record?: AnswerRecord }>): Promise<number> {
  const out = createWriteStream(path);
  let count = 0;
  try {
    for await (const { record } of answers) {
      if (!record) continue;
      if (!out.write(`${toJsonString(AnswerRecordSchema, record)}\n`)) await once(out, "drain");
      count++;
    }
  } finally {
    out.end();
    await once(out, "close");
  }
  return count;
}

/**
 * Writes results.csv, results.json, results.tex, report.html and (given the answers) answers.jsonl for an
 * experiment; returns their paths.
 */
export async function writeReport(
  dir: string,
  experiment: Experiment,
  rows: ResultRow[],
  options: ReportOptions = {},
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const about = options.about ?? [];
  const json = {
    experimentId: experiment.experimentId,
    name: experiment.spec?.name ?? "",
    state: experimentStateName(experiment.state),
    statements: reportStatements(about, rows),
    rows: rowsToJson(rows),
  };
  const files: Array<[string, string]> = [
    ["results.csv", rowsToCsv(rows)],
    ["results.json", `${JSON.stringify(json, null, 2)}\n`],
    ["results.tex", rowsToLatex(experiment, rows, about)],
    ["report.html", renderReportHtml(experiment, rows, about)],
  ];
  for (const [name, content] of files) await writeFile(join(dir, name), content);
  const paths = files.map(([name]) => join(dir, name));
  if (options.answers) {
    await writeAnswers(join(dir, "answers.jsonl"), options.answers);
    paths.push(join(dir, "answers.jsonl"));
  }
  return paths;
}
