/**
 * The results table: per cell and criterion the mean over questions with a 95% bootstrap percentile interval
 * (on the 1–5 scale by construction), and the paired difference to the base model on the same questions with
 * its bootstrap interval and a sign-flip permutation p-value, Holm-corrected within each dataset × base model ×
 * criterion family. Rows also say what produced them: trained-on size, judge, its spread, failed repeats.
 */
import { create } from "@bufbuild/protobuf";
import { SpreadSchema } from "@ragtune/contracts/common";
import { type ExperimentSpec, type ResultRow, ResultRowSchema } from "@ragtune/contracts/gateway";
import { bootstrapMean, holmAdjust, pairedComparison, spreadOf } from "@ragtune/runtime";
import type { CellResult } from "./cell-results.js";

/** The judge's scale. */
export const SCALE: readonly [number, number] = [1, 5];

const familyKey = (cell: CellResult, criterion: string) => `${cell.dataset}\u0000${cell.modelIndex}\u0000${criterion}`;

export function buildResultRows(
  cells: CellResult[],
  spec: Pick<ExperimentSpec, "criteria" | "seed" | "baseModels">,
): ResultRow[] {
  const seed = Number(spec.seed);
  const baseOf = new Map<string, CellResult>();
  for (const cell of cells) if (cell.size === 0) baseOf.set(`${cell.dataset}\u0000${cell.modelIndex}`, cell);
  const rows: ResultRow[] = [];
  const families = new Map<string, ResultRow[]>();
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
    for (const criterion of spec.criteria) {
      const perItem = Object.entries(cell.scores)
        .map(([item, scores]) => [item, scores[criterion]] as const)
        .filter((entry): entry is readonly [string, number] => entry[1] !== undefined);
      const values = perItem.map(([, s]) => s);
      const interval = bootstrapMean(values, { seed, range: SCALE });
      const judge = cell.judge?.[criterion];
      const row = create(ResultRowSchema, {
        dataset: cell.dataset,
        baseModel: cell.baseModel,
        backend: spec.baseModels[cell.modelIndex]?.backend ?? "",
        method: cell.method,
        finetuneSize: cell.size,
        trainedOn: cell.trainedOn,
        hyperparametersIndex: cell.hyperparametersIndex,
        criterion,
        score: create(SpreadSchema, {
          n: interval.n,
          mean: interval.mean,
          stddev: spreadOf(values).stddev,
          ci95Low: interval.ci95Low,
          ci95High: interval.ci95High,
        }),
        intervalClipped: interval.clipped,
        diffPValue: 1,
        diffPHolm: 1,
        adapterId: cell.adapterId,
        executor: cell.executor ?? "",
        judgeMode: judge?.mode,
        judgeModel: judge?.model ?? "",
        judgeMeanItemStddev: judge?.meanItemStddev ?? 0,
        judgeRepeats: judge?.meanRepeats ?? 0,
        failedRepeats: cell.failedRepeats[criterion] ?? 0,
        manifestSha256: cell.manifestSha256 ?? "",
      });
      if (base && cell !== base) {
        const paired = perItem.filter(([item]) => base.scores[item]?.[criterion] !== undefined);
        const diff = pairedComparison(
          paired.map(([, s]) => s),
          paired.map(([item]) => base.scores[item][criterion]),
          { seed, scaleRange: SCALE },
        );
        row.pairedN = diff.n;
        row.diffVsBase = diff.meanDifference;
        row.diffCi95Low = diff.ci95Low;
        row.diffCi95High = diff.ci95High;
        row.diffPValue = diff.pValue;
        row.intervalClipped ||= diff.clipped;
        const family = families.get(familyKey(cell, criterion)) ?? [];
        family.push(row);
        families.set(familyKey(cell, criterion), family);
      }
      rows.push(row);
    }
  }
  for (const family of families.values()) {
    const adjusted = holmAdjust(family.map((r) => r.diffPValue));
    family.forEach((row, i) => {
      row.diffPHolm = adjusted[i];
      row.holmFamilySize = family.length;
    });
  }
  return rows;
}
