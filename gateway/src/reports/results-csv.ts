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
  "executor",
] as const;

/** The method as it really ran: the CPU reader's fine-tune trains the reader's weights, whatever the spec's method. */
export function methodLabel(row: Pick<ResultRow, "method" | "executor">): string {
  if (row.method === FineTuneMethod.UNSPECIFIED) return "base";
  if (row.executor === "cpu-reader") return "reader";
  return FineTuneMethod[row.method].toLowerCase();
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
        methodLabel(r),
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
        r.executor,
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
