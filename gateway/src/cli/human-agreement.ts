/**
 * How far the judge agrees with human ratings of the same answers: per criterion (over all datasets, and per
 * dataset), the rated answers n, Spearman's and Pearson's correlation between the judge's per-answer mean over its
 * repeats and the raters' mean, and the mean absolute and signed difference in scale points. This is agreement
 * with a human standard, unlike the judge's reliability (its agreement with itself across repeats).
 */
import type { AnswerRecord } from "@ragtune/contracts/gateway";
import type { HumanRating } from "./human-ratings-file.js";

export interface AgreementRow {
  criterion: string;
  /** A dataset's name, or "all". */
  dataset: string;
  /** Answers with both a judge score and a human rating. */
  n: number;
  /** NaN when fewer than 3 answers or a side has no variance. */
  spearman: number;
  pearson: number;
  meanAbsDifference: number;
  /** Mean of judge − human. */
  meanDifference: number;
}

export interface HumanAgreement {
  rows: AgreementRow[];
  ratings: number;
  /** Distinct named raters (ratings without a rater are not counted here). */
  raters: number;
  /** Ratings that named no answer of the run or a criterion it did not judge, with why (never dropped silently). */
  unmatched: { line: number; reason: string }[];
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export function pearson(x: number[], y: number[]): number {
  if (x.length < 3) return Number.NaN;
  const [mx, my] = [mean(x), mean(y)];
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Number.NaN;
}

/** Ranks from 1, ties sharing their mean rank (what Spearman's correlation needs on a 1..5 scale). */
export function ranks(values: number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1][0] === order[start][0]) end++;
    for (let k = start; k <= end; k++) out[order[k][1]] = (start + end) / 2 + 1;
    start = end + 1;
  }
  return out;
}

export function spearman(x: number[], y: number[]): number {
  return pearson(ranks(x), ranks(y));
}

function row(criterion: string, dataset: string, pairs: { judge: number; human: number }[]): AgreementRow {
  const judge = pairs.map((p) => p.judge);
  const human = pairs.map((p) => p.human);
  return {
    criterion,
    dataset,
    n: pairs.length,
    spearman: spearman(judge, human),
    pearson: pearson(judge, human),
    meanAbsDifference: pairs.length ? mean(pairs.map((p) => Math.abs(p.judge - p.human))) : Number.NaN,
    meanDifference: pairs.length ? mean(pairs.map((p) => p.judge - p.human)) : Number.NaN,
  };
}

/** Joins the run's answers (ExportAnswers' stream or answers.jsonl) with the ratings and measures agreement. */
export async function humanAgreement(
  answers: AsyncIterable<AnswerRecord> | Iterable<AnswerRecord>,
  ratings: readonly HumanRating[],
): Promise<HumanAgreement> {
  // Raters' ratings of one answer and criterion are averaged first: each answer counts once.
  const wanted = new Map<string, HumanRating[]>();
  for (const r of ratings) {
    const key = JSON.stringify([r.cellKey, r.itemId, r.criterion]);
    wanted.set(key, [...(wanted.get(key) ?? []), r]);
  }
  const answered = new Set<string>();
  const pairs = new Map<string, { dataset: string; criterion: string; judge: number; human: number }>();
  for await (const record of answers) {
    answered.add(JSON.stringify([record.cellKey, record.itemId]));
    for (const score of record.scores) {
      const key = JSON.stringify([record.cellKey, record.itemId, score.criterion]);
      const rated = wanted.get(key);
      if (!rated || !score.spread || score.spread.n === 0) continue;
      pairs.set(key, {
        dataset: record.dataset,
        criterion: score.criterion,
        judge: score.spread.mean,
        human: mean(rated.map((r) => r.score)),
      });
    }
  }
  const unmatched: HumanAgreement["unmatched"] = [];
  for (const [key, rated] of wanted) {
    if (pairs.has(key)) continue;
    const [cellKey, itemId, criterion] = JSON.parse(key) as string[];
    const reason = answered.has(JSON.stringify([cellKey, itemId]))
      ? `the judge has no successful score on ${criterion} for it`
      : `no answer ${itemId} in cell ${cellKey}`;
    for (const r of rated) unmatched.push({ line: r.line, reason });
  }
  unmatched.sort((a, b) => a.line - b.line);
  const groups = new Map<string, { criterion: string; dataset: string; pairs: { judge: number; human: number }[] }>();
  for (const p of pairs.values()) {
    for (const dataset of ["all", p.dataset]) {
      const key = `${p.criterion}\u0000${dataset}`;
      const group = groups.get(key) ?? { criterion: p.criterion, dataset, pairs: [] };
      group.pairs.push(p);
      groups.set(key, group);
    }
  }
  const rows = [...groups.values()]
    .sort(
      (a, b) =>
        a.criterion.localeCompare(b.criterion) ||
        (a.dataset === "all" ? -1 : b.dataset === "all" ? 1 : a.dataset.localeCompare(b.dataset)),
    )
    .map((g) => row(g.criterion, g.dataset, g.pairs));
  return {
    rows,
    ratings: ratings.length,
    raters: new Set(ratings.map((r) => r.rater).filter(Boolean)).size,
    unmatched,
  };
}

const fixed = (v: number, digits = 2, sign = false) =>
  Number.isNaN(v) ? "–" : `${sign && v > 0 ? "+" : ""}${v.toFixed(digits)}`;

/** The agreement as the terminal shows it, under the results table. */
export function formatAgreementTable(file: string, agreement: HumanAgreement): string {
  const lines = [
    "",
    `Agreement with human ratings (${file}: ${agreement.ratings} ratings, ${agreement.raters} named rater${agreement.raters === 1 ? "" : "s"}; judge = mean over its repeats, human = mean over raters)`,
    `${"criterion".padEnd(14)} ${"dataset".padEnd(10)} ${"n".padStart(5)} ${"spearman".padStart(9)} ${"pearson".padStart(8)} ${"mean |j-h|".padStart(11)} ${"mean j-h".padStart(9)}`,
  ];
  for (const r of agreement.rows) {
    lines.push(
      `${r.criterion.padEnd(14)} ${r.dataset.padEnd(10)} ${String(r.n).padStart(5)} ${fixed(r.spearman).padStart(9)} ${fixed(r.pearson).padStart(8)} ${fixed(r.meanAbsDifference).padStart(11)} ${fixed(r.meanDifference, 2, true).padStart(9)}`,
    );
  }
  if (!agreement.rows.length) lines.push("(no rating matched an answer of this run)");
  if (agreement.unmatched.length) {
    const shown = agreement.unmatched.slice(0, 5).map((u) => `line ${u.line}: ${u.reason}`);
    const more = agreement.unmatched.length > 5 ? `; and ${agreement.unmatched.length - 5} more` : "";
    lines.push(
      `${agreement.unmatched.length} rating(s) matched nothing and are not counted: ${shown.join("; ")}${more}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The agreement as CSV (for the report folder and --format csv). */
export function agreementCsv(agreement: HumanAgreement): string {
  const head = "criterion,dataset,n,spearman,pearson,mean_abs_difference,mean_difference";
  const body = agreement.rows.map((r) =>
    [r.criterion, r.dataset, r.n, r.spearman, r.pearson, r.meanAbsDifference, r.meanDifference]
      .map((v) => (typeof v === "number" && Number.isNaN(v) ? "" : String(v)))
      .join(","),
  );
  return `${[head, ...body].join("\n")}\n`;
}
