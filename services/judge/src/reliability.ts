/**
 * The reliability report of a batch: how far the judge agrees with itself across repeats (per-item spread, rank
 * flips, Krippendorff's α with repeats as coders), with a second judge when given, and with human ratings when
 * given. Only the last relates scores to a human standard; agreement between repeats is reliability, not
 * calibration, and is named so.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type CalibrationReport,
  CalibrationReportSchema,
  type HumanRating,
  type JudgeAgreement,
  JudgeAgreementSchema,
  type ReliabilityReport,
  ReliabilityReportSchema,
  type ScoreResponse,
} from "@ragtune/contracts/judge";
import { krippendorffAlphaInterval, rankFlipRate, spearman } from "./statistics.js";

export const HUMAN_RATINGS_LABEL = "human ratings";

export interface ReliabilityInput {
  criteria: readonly string[];
  results: readonly ScoreResponse[];
  judgeLabel: string;
  compare?: { results: readonly ScoreResponse[]; label: string };
  humanRatings?: readonly HumanRating[];
}

function criterionOf(result: ScoreResponse | undefined, criterion: string) {
  return result?.scores.find((s) => s.criterion === criterion);
}

function requestsOf(results: readonly ScoreResponse[]): number {
  return results.reduce((sum, r) => sum + r.stepsRequests + r.scores.reduce((inner, s) => inner + s.requests, 0), 0);
}

/** The per-item mean score on a criterion, in batch order; undefined where no repeat succeeded. */
function itemMeans(results: readonly ScoreResponse[], criterion: string): Array<number | undefined> {
  return results.map((result) => {
    const spread = criterionOf(result, criterion)?.spread;
    return spread && spread.n > 0 ? spread.mean : undefined;
  });
}

/** Agreement of two per-item score lists (same items, same order). */
function agreementOf(
  criterion: string,
  firstJudge: string,
  secondJudge: string,
  first: number[],
  second: number[],
): JudgeAgreement {
  return create(JudgeAgreementSchema, {
    criterion,
    firstJudge,
    secondJudge,
    items: first.length,
    spearman: spearman(first, second),
    krippendorffAlpha: krippendorffAlphaInterval(first.map((a, i) => [a, second[i]])),
    meanDifference: first.length ? second.reduce((s, b, i) => s + b - first[i], 0) / first.length : Number.NaN,
  });
}

/**
 * Human ratings of one criterion averaged per item (several raters give one mean), in batch order; item ids
 * are unique in a batch that has ratings (checked in validation).
 */
function humanMeans(
  results: readonly ScoreResponse[],
  ratings: readonly HumanRating[],
  criterion: string,
): Array<number | undefined> {
  const sums = new Map<string, { sum: number; n: number }>();
  for (const rating of ratings) {
    if (rating.criterion !== criterion) continue;
    const entry = sums.get(rating.itemId) ?? { sum: 0, n: 0 };
    entry.sum += rating.score;
    entry.n++;
    sums.set(rating.itemId, entry);
  }
  return results.map((r) => {
    const entry = sums.get(r.itemId);
    return entry ? entry.sum / entry.n : undefined;
  });
}

/** The items both sides scored, as two aligned lists. */
function paired(a: Array<number | undefined>, b: Array<number | undefined>): [number[], number[]] {
  const first: number[] = [];
  const second: number[] = [];
  a.forEach((x, i) => {
    const y = b[i];
    if (x !== undefined && y !== undefined) {
      first.push(x);
      second.push(y);
    }
  });
  return [first, second];
}

export function buildReliabilityReport(input: ReliabilityInput): ReliabilityReport {
  const report = create(ReliabilityReportSchema, {
    items: input.results.length,
    requests: BigInt(requestsOf(input.results) + requestsOf(input.compare?.results ?? [])),
  });
  let cachedRepeats = 0;
  for (const criterion of input.criteria) {
    const scored = input.results.map((r) => criterionOf(r, criterion));
    const perItem = scored.map((s) => (s?.repeats ?? []).map((r) => (r.failed ? undefined : r.score)));
    const withSpread = scored.filter((s) => (s?.spread?.n ?? 0) >= 2);
    report.meanItemStddev[criterion] = withSpread.length
      ? withSpread.reduce((sum, s) => sum + (s?.spread?.stddev ?? 0), 0) / withSpread.length
      : Number.NaN;
    const flips = rankFlipRate(perItem);
    report.rankFlipRate[criterion] = flips.rate;
    report.rankFlipComparisons[criterion] = BigInt(flips.comparisons);
    report.failedRepeats[criterion] = scored.reduce((sum, s) => sum + (s?.failedRepeats ?? 0), 0);
    report.repeatAlpha[criterion] = krippendorffAlphaInterval(
      perItem.map((values) => values.filter((v): v is number => v !== undefined)),
    );
    cachedRepeats += scored.reduce((sum, s) => sum + (s?.cachedRepeats ?? 0), 0);

    const judged = itemMeans(input.results, criterion);
    if (input.compare) {
      const [first, second] = paired(judged, itemMeans(input.compare.results, criterion));
      report.agreement.push(agreementOf(criterion, input.judgeLabel, input.compare.label, first, second));
    }
    const ratings = input.humanRatings ?? [];
    if (ratings.some((r) => r.criterion === criterion)) {
      const [first, second] = paired(judged, humanMeans(input.results, ratings, criterion));
      report.humanAgreement.push(agreementOf(criterion, input.judgeLabel, HUMAN_RATINGS_LABEL, first, second));
    }
  }
  report.cachedRepeats = BigInt(cachedRepeats);
  return report;
}

/**
 * The same figures under the deprecated CalibrationReport, for clients that still read
 * ScoreBatchResponse.calibration: fields 1..9 share their numbers, so the wire form converts as it is.
 */
export function asCalibrationReport(report: ReliabilityReport): CalibrationReport {
  const shared = create(ReliabilityReportSchema, { ...report, humanAgreement: [] });
  return fromBinary(CalibrationReportSchema, toBinary(ReliabilityReportSchema, shared));
}
