import { toJson } from "@bufbuild/protobuf";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { type ResultRow, ResultRowSchema } from "@ragtune/contracts/gateway";

const COLUMNS = [
  "dataset",
  "base_model",
  "method",
  "finetune_size",
  "hyperparameters_index",
  "criterion",
  "n",
  "mean",
  "stddev",
  "ci95_low",
  "ci95_high",
  "diff_vs_base",
  "diff_ci95_low",
  "diff_ci95_high",
  "adapter_id",
] as const;

export function methodLabel(method: FineTuneMethod): string {
  return method === FineTuneMethod.UNSPECIFIED ? "base" : FineTuneMethod[method].toLowerCase();
}

function csvField(value: string | number): string {
  const text = typeof value === "number" ? (Number.isInteger(value) ? String(value) : value.toFixed(4)) : value;
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function rowsToCsv(rows: ResultRow[]): string {
  const lines = [COLUMNS.join(",")];
  for (const r of rows) {
    const s = r.score!;
    const base = r.finetuneSize === 0;
    lines.push(
      [
        r.dataset,
        r.baseModel,
        methodLabel(r.method),
        r.finetuneSize,
        r.hyperparametersIndex,
        r.criterion,
        s.n,
        s.mean,
        s.stddev,
        s.ci95Low,
        s.ci95High,
        base ? "" : r.diffVsBase,
        base ? "" : r.diffCi95Low,
        base ? "" : r.diffCi95High,
        r.adapterId,
      ]
        .map(csvField)
        .join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}

export function rowsToJson(rows: ResultRow[]): unknown[] {
  return rows.map((r) => toJson(ResultRowSchema, r, { alwaysEmitImplicit: true }));
}
