/**
 * The calibration report of a batch: how stable the judge is across repeats (per-item spread, rank flips,
 * Krippendorff's α with repeats as coders) and, given a second judge, how far the two agree.
 */
import { create } from "@bufbuild/protobuf";
import {
  type CalibrationReport,
  CalibrationReportSchema,
  JudgeAgreementSchema,
  type ScoreResponse,
} from "@ragtune/contracts/judge";
import { krippendorffAlphaInterval, rankFlipRate, spearman } from "./statistics.js";

export interface CalibrationInput {
  criteria: readonly string[];
  results: readonly ScoreResponse[];
  compare?: { results: readonly ScoreResponse[]; firstLabel: string; secondLabel: string };
}

function criterionOf(result: ScoreResponse, criterion: string) {
  return result.scores.find((s) => s.criterion === criterion);
}

function requestsOf(results: readonly ScoreResponse[]): number {
  return results.reduce((sum, r) => sum + r.stepsRequests + r.scores.reduce((inner, s) => inner + s.requests, 0), 0);
}

export function buildCalibrationReport(input: CalibrationInput): CalibrationReport {
  const report = create(CalibrationReportSchema, {
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

    if (input.compare) {
      const first: number[] = [];
      const second: number[] = [];
      input.results.forEach((result, i) => {
        const a = criterionOf(result, criterion)?.spread;
        const b = input.compare && criterionOf(input.compare.results[i], criterion)?.spread;
        if (a && b && a.n > 0 && b.n > 0) {
          first.push(a.mean);
          second.push(b.mean);
        }
      });
      report.agreement.push(
        create(JudgeAgreementSchema, {
          criterion,
          firstJudge: input.compare.firstLabel,
          secondJudge: input.compare.secondLabel,
          items: first.length,
          spearman: spearman(first, second),
          krippendorffAlpha: krippendorffAlphaInterval(first.map((a, i) => [a, second[i]])),
          meanDifference: first.length ? second.reduce((s, b, i) => s + b - first[i], 0) / first.length : Number.NaN,
        }),
      );
    }
  }
  report.cachedRepeats = BigInt(cachedRepeats);
  return report;
}
