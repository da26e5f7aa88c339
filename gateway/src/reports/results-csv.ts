/** The results table as CSV and JSON: one record per cell × criterion, with the words for what produced it. */
import { toJson } from "@bufbuild/protobuf";
import { type ResultRow, ResultRowSchema } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import { isPaired } from "./number-format.js";
import { enumName, fineTuneLabel, judgeLabel, methodLabel, modelLabel } from "./run-labels.js";

export { methodLabel } from "./run-labels.js";

type Value = string | number | boolean;

/** Column name → its value for a row; differences and p-values are blank on rows without a paired base (the base row). */
const COLUMNS: ReadonlyArray<[string, (r: ResultRow, unpaired: boolean) => Value]> = [
  ["dataset", (r) => r.dataset],
  ["base_model", (r) => r.baseModel],
  ["backend", (r) => r.backend],
  ["model", (r) => modelLabel(r)],
  ["method", (r) => methodLabel(r)],
  ["fine_tune", (r) => fineTuneLabel(r)],
  ["finetune_size", (r) => r.finetuneSize],
  ["trained_on", (r) => r.trainedOn],
  ["hyperparameters_index", (r) => r.hyperparametersIndex],
  ["criterion", (r) => r.criterion],
  ["n", (r) => r.score!.n],
  ["mean", (r) => r.score!.mean],
  ["stddev", (r) => r.score!.stddev],
  ["ci95_low", (r) => r.score!.ci95Low],
  ["ci95_high", (r) => r.score!.ci95High],
  ["paired_n", (r, unpaired) => (unpaired ? "" : r.pairedN)],
  ["diff_vs_base", (r, unpaired) => (unpaired ? "" : r.diffVsBase)],
  ["diff_ci95_low", (r, unpaired) => (unpaired ? "" : r.diffCi95Low)],
  ["diff_ci95_high", (r, unpaired) => (unpaired ? "" : r.diffCi95High)],
  ["p_value", (r, unpaired) => (unpaired ? "" : r.diffPValue)],
  ["p_holm", (r, unpaired) => (unpaired ? "" : r.diffPHolm)],
  ["holm_family_size", (r, unpaired) => (unpaired ? "" : r.holmFamilySize)],
  ["interval_clipped", (r) => r.intervalClipped],
  ["judge", (r) => judgeLabel(r)],
  ["judge_mode", (r) => enumName(ScoringMode, r.judgeMode)],
  ["judge_model", (r) => r.judgeModel],
  ["judge_repeats", (r) => r.judgeRepeats],
  ["judge_mean_item_sd", (r) => r.judgeMeanItemStddev],
  ["failed_repeats", (r) => r.failedRepeats],
  ["manifest_sha256", (r) => r.manifestSha256],
  ["adapter_id", (r) => r.adapterId],
  ["executor", (r) => r.executor],
];

function csvField(value: Value): string {
  const text = typeof value === "number" ? (Number.isInteger(value) ? String(value) : value.toFixed(4)) : String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function rowsToCsv(rows: ResultRow[]): string {
  const lines = [COLUMNS.map(([name]) => name).join(",")];
  for (const r of rows) {
    const unpaired = !isPaired(r);
    lines.push(COLUMNS.map(([, value]) => csvField(value(r, unpaired))).join(","));
  }
  return `${lines.join("\n")}\n`;
}

/** Rows as JSON (enums by name, as protobuf JSON writes them), each with the model, fine-tune and judge in words. */
export function rowsToJson(rows: ResultRow[]): unknown[] {
  return rows.map((r) => ({
    labels: { model: modelLabel(r), fineTune: fineTuneLabel(r), judge: judgeLabel(r) },
    ...(toJson(ResultRowSchema, r, { alwaysEmitImplicit: true }) as object),
  }));
}
