/**
 * Words for what produced a result row, used by every output (terminal, CSV, JSON, HTML, LaTeX): a row whose
 * model is the extractive reader, whose fine-tune trained the reader's sentence scorer, or whose judge is the
 * reference scorer says so, and no output shows an enum's number.
 */
import { FineTuneMethod } from "@ragtune/contracts/common";
import { ExperimentState, type ResultRow } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import { standIns } from "../cli/data-source.js";

type Row = Pick<ResultRow, "method" | "executor" | "backend" | "baseModel" | "judgeMode" | "judgeModel">;

/** The method as it really ran: the CPU reader's fine-tune trains the reader's weights, whatever the spec's method. */
export function methodLabel(row: Pick<ResultRow, "method" | "executor">): string {
  if (row.method === FineTuneMethod.UNSPECIFIED) return "base";
  if (row.executor === "cpu-reader") return "reader";
  return enumName(FineTuneMethod, row.method);
}

/** An enum value's name in lower case with spaces ("logprob weighted"), or "unknown (n)" for a value this build lacks. */
export function enumName(enumObject: Record<number, string>, value: number): string {
  const name = enumObject[value];
  return name === undefined ? `unknown (${value})` : name.toLowerCase().replaceAll("_", " ");
}

export const experimentStateName = (state: ExperimentState) => enumName(ExperimentState, state);

export function isExtractiveReader(row: Pick<ResultRow, "backend">): boolean {
  return row.backend === "extractive";
}

/** The model that answered. */
export function modelLabel(row: Row): string {
  if (isExtractiveReader(row)) return `${row.baseModel}: extractive reader (picks sentences; not an LLM)`;
  return row.backend ? `${row.baseModel} (${row.backend})` : row.baseModel;
}

/** What the fine-tune was. */
export function fineTuneLabel(row: Row): string {
  if (row.method === FineTuneMethod.UNSPECIFIED) return "base model (no fine-tune)";
  if (row.executor === "cpu-reader") return "reader's sentence-scorer fine-tune (not LoRA on an LLM)";
  if (row.executor === "openai") return `hosted fine-tune (${enumName(FineTuneMethod, row.method)} requested)`;
  return `${enumName(FineTuneMethod, row.method)}${row.executor ? ` (${row.executor})` : ""}`;
}

const JUDGE_MODES: Partial<Record<ScoringMode, string>> = {
  [ScoringMode.REFERENCE]: "reference-overlap scorer (not G-Eval)",
  [ScoringMode.LOGPROB_WEIGHTED]: "G-Eval, logprob-weighted",
  [ScoringMode.N_SAMPLE]: "G-Eval, mean of n samples",
  [ScoringMode.SINGLE]: "G-Eval, one sample",
};

/** The judge, e.g. "judge: reference-overlap scorer (not G-Eval)" or "judge: G-Eval, logprob-weighted, gpt-4o". */
export function judgeLabel(row: Pick<ResultRow, "judgeMode" | "judgeModel">): string {
  if (row.judgeMode === ScoringMode.UNSPECIFIED) return "judge: not recorded (results stored before judges were kept)";
  if (row.judgeMode === ScoringMode.REFERENCE) return `judge: ${JUDGE_MODES[row.judgeMode]}`;
  const mode = JUDGE_MODES[row.judgeMode] ?? enumName(ScoringMode, row.judgeMode);
  return `judge: ${mode}${row.judgeModel ? `, ${row.judgeModel}` : ""}`;
}

/**
 * The stand-in statements a set of rows calls for, once each, in the CLI's own words (the same lines
 * `ragtune run` prints and writes to about-this-run.txt, so a report given those lines repeats none of them).
 */
export function standInStatements(rows: readonly Row[]): string[] {
  const out = new Set<string>();
  for (const row of rows) {
    const reader = isExtractiveReader(row);
    const tunedReader = row.method !== FineTuneMethod.UNSPECIFIED && row.executor === "cpu-reader";
    const reference = row.judgeMode === ScoringMode.REFERENCE;
    for (const s of standIns({
      backend: reader || tunedReader ? "extractive" : row.backend,
      judgeMode: reference ? "reference" : "",
    })) {
      if (s.part === "model" && !reader) continue;
      if (s.part === "fine-tune" && !tunedReader) continue;
      out.add(`STAND-IN ${s.part}: ${s.standIn}, instead of ${s.real}.`);
    }
  }
  return [...out];
}

/**
 * Statements of a report: the run's own (about-this-run lines, joined into sentences) and then the stand-in
 * statements its rows call for that the run's own did not already make.
 */
export function reportStatements(about: readonly string[], rows: readonly Row[]): string[] {
  const sentences: string[] = [];
  let current = "";
  for (const line of about) {
    current = current ? `${current} ${line.trim()}` : line.trim();
    if (/[.:]$/.test(current) || /^STAND-IN|^datasets from/.test(line)) {
      sentences.push(current);
      current = "";
    }
  }
  if (current) sentences.push(current);
  return [...new Set([...sentences, ...standInStatements(rows)])];
}
