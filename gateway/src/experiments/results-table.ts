/**
 * The results table: per cell and criterion the mean over questions with its 95% t-interval, and the paired
 * difference to the base model on the same questions with a paired-bootstrap 95% interval.
 */
import { create } from "@bufbuild/protobuf";
import { SpreadSchema } from "@ragtune/contracts/common";
import { type ResultRow, ResultRowSchema } from "@ragtune/contracts/gateway";
import { pairedBootstrap, spreadOf } from "@ragtune/runtime";
import type { CellResult } from "./cell-results.js";

export function buildResultRows(cells: CellResult[], criteria: string[], seed: number): ResultRow[] {
  const baseOf = new Map<string, CellResult>();
  for (const cell of cells) if (cell.size === 0) baseOf.set(`${cell.dataset}\u0000${cell.modelIndex}`, cell);
  const rows: ResultRow[] = [];
  const ordered = [...cells].sort(
    (a, b) =>
      a.dataset.localeCompare(b.dataset) ||
      a.modelIndex - b.modelIndex ||
      a.method - b.method ||
      a.size - b.size ||
      a.hyperparametersIndex - b.hyperparametersIndex,
  );
  for (const cell of ordered) {
    const base = baseOf.get(`${cell.dataset}\u0000${cell.modelIndex}`);
    for (const criterion of criteria) {
      const perItem = Object.entries(cell.scores)
        .map(([item, scores]) => [item, scores[criterion]] as const)
        .filter(([, score]) => score !== undefined);
      const spread = spreadOf(perItem.map(([, s]) => s));
      const row = create(ResultRowSchema, {
        dataset: cell.dataset,
        baseModel: cell.baseModel,
        method: cell.method,
        finetuneSize: cell.size,
        hyperparametersIndex: cell.hyperparametersIndex,
        criterion,
        score: create(SpreadSchema, spread),
        adapterId: cell.adapterId,
        executor: cell.executor ?? "",
      });
      if (base && cell !== base) {
        const paired = perItem.filter(([item]) => base.scores[item]?.[criterion] !== undefined);
        const diff = pairedBootstrap(
          paired.map(([, s]) => s),
          paired.map(([item]) => base.scores[item][criterion]),
          { seed },
        );
        row.diffVsBase = diff.meanDifference;
        row.diffCi95Low = diff.ci95Low;
        row.diffCi95High = diff.ci95High;
      }
      rows.push(row);
    }
  }
  return rows;
}
