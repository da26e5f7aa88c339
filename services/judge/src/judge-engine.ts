/**
 * Scores answers: per criterion, frozen G-Eval steps → form prompt → repeats (cache first, then the judge
 * model) → spread; or the reference scorer. Batches run with bounded concurrency and get a reliability report.
 */
import { setMaxListeners } from "node:events";
import { create } from "@bufbuild/protobuf";
import { SpreadSchema } from "@ragtune/contracts/common";
import {
  type CriterionScore,
  CriterionScoreSchema,
  type HumanRating,
  type RepeatScore,
  RepeatScoreSchema,
  type ScoreItem,
  RepeatStrategy,
  type ScoreResponse,
  ScoreResponseSchema,
  ScoringMode,
} from "@ragtune/contracts/judge";
import { withSpan } from "@ragtune/runtime";
import { buildReliabilityReport } from "./reliability.js";
import { type ConcurrencyLimiter, createConcurrencyLimiter, mapConcurrent, underLimiters } from "./concurrency.js";
import { type CriterionSpec, criterionHash } from "./criteria.js";
import type { EvaluationSteps } from "./evaluation-steps.js";
import { hashValue } from "./hash.js";
import { buildFormPrompt, formPromptHash } from "./prompts.js";
import { referenceAnswersOf } from "./reference-answers.js";
import { REFERENCE_SCORER_HASH, scoreAgainstReference } from "./reference-scorer.js";
import { type RepeatRecord, scoreRepeats, TOP_LOGPROBS } from "./repeat-scoring.js";
import type { ModelJudge, ResolvedJudge } from "./resolved-judge.js";
import { spreadOf } from "./statistics.js";
import type { JsonStore } from "./stores/blob-store.js";

/** @3: one cache entry per answer and criterion holding its repeats (was one per repeat: 2R KV calls a request). */
export const SCORE_CACHE_VERSION = "score-cache@3";

/** An answer's repeats on one criterion as cached so far, by repeat index. */
export interface CachedRepeats {
  repeats: Record<number, RepeatRecord>;
}
/** Least probability mass on the scale values for a LOGPROB_WEIGHTED repeat to be scored, by default. */
export const DEFAULT_MIN_SCORE_MASS = 0.5;
const TRACER = "ragtune.judge";

export interface JudgeEngineOptions {
  steps: EvaluationSteps;
  /** Repeat records of an answer and criterion, by content-addressed key. */
  cache: JsonStore<CachedRepeats>;
  /** Attempts per repeat at an unparseable output (first try included). Default 3. */
  maxAttempts?: number;
  /** LLM requests in flight at once across every call this engine serves. Default 64. */
  maxConcurrentRequests?: number;
  /** LOGPROB_WEIGHTED: least mass on the scale values at the score position; below it the repeat fails. */
  minScoreMass?: number;
}

export interface BatchResult {
  results: ScoreResponse[];
  compareResults: ScoreResponse[];
  reliability: ReturnType<typeof buildReliabilityReport>;
}

export function createJudgeEngine(options: JudgeEngineOptions) {
  const maxAttempts = options.maxAttempts ?? 3;
  const minScoreMass = options.minScoreMass ?? DEFAULT_MIN_SCORE_MASS;
  const global = createConcurrencyLimiter(options.maxConcurrentRequests ?? 64);
  /** Backend and model pairs found ignoring n, with what was seen: later scores ask one choice per request. */
  const nIgnoredBy = new Map<string, string>();

  function inputHashOf(item: ScoreItem): string {
    // Only what the judge is shown; the caller's item_id does not change the score.
    return hashValue({
      question: item.question,
      answer: item.answer,
      contexts: item.contexts,
      referenceAnswers: referenceAnswersOf(item),
    });
  }

  function scoreReference(item: ScoreItem, criterion: CriterionSpec, judge: ResolvedJudge): CriterionScore {
    const result = scoreAgainstReference({
      answer: item.answer,
      referenceAnswers: referenceAnswersOf(item),
      referenceEvidence: item.referenceEvidence,
    });
    const score = criterion.name === "accuracy" ? result.accuracy : result.completeness;
    // Deterministic: one repeat carries all the information, so no copies are padded in.
    return create(CriterionScoreSchema, {
      criterion: criterion.name,
      repeats: [create(RepeatScoreSchema, { repeatIndex: 0, score, rationale: result.rationale })],
      spread: create(SpreadSchema, { n: 1, mean: score, stddev: 0, ci95Low: score, ci95High: score }),
      mode: ScoringMode.REFERENCE,
      judgeModel: judge.label,
      backend: "reference",
      promptHash: REFERENCE_SCORER_HASH,
      criterionHash: criterionHash(criterion),
    });
  }

  /** One span per answer and criterion, so a trace shows where repeats came from the cache and what they cost. */
  function scoreWithModelTraced(
    item: ScoreItem,
    criterion: CriterionSpec,
    judge: ModelJudge,
    limiters: readonly ConcurrencyLimiter[],
    signal: AbortSignal | undefined,
  ) {
    const attributes = {
      "ragtune.judge.criterion": criterion.name,
      "ragtune.judge.mode": ScoringMode[judge.mode],
      "ragtune.judge.repeats": judge.repeats,
      "gen_ai.request.model": judge.label,
    };
    return withSpan(TRACER, "ragtune.judge.score_criterion", attributes, async (span) => {
      const result = await scoreWithModel(item, criterion, judge, limiters, signal);
      span.setAttributes({
        "ragtune.judge.requests": result.score.requests,
        "ragtune.judge.cached_repeats": result.score.cachedRepeats,
        "ragtune.judge.failed_repeats": result.score.failedRepeats,
      });
      return result;
    });
  }

  async function scoreWithModel(
    item: ScoreItem,
    criterion: CriterionSpec,
    judge: ModelJudge,
    limiters: readonly ConcurrencyLimiter[],
    signal: AbortSignal | undefined,
  ): Promise<{ score: CriterionScore; stepsRequests: number }> {
    const steps = await options.steps.stepsFor(judge.backend, judge.model, criterion, signal);
    const logprob = judge.mode === ScoringMode.LOGPROB_WEIGHTED;
    const formKind = logprob ? "score-only" : "rationale";
    const messages = buildFormPrompt(
      criterion,
      steps.steps,
      {
        question: item.question,
        answer: item.answer,
        contexts: item.contexts,
        referenceAnswers: referenceAnswersOf(item),
      },
      formKind,
    );
    const identity = {
      v: SCORE_CACHE_VERSION,
      backend: judge.backend.name,
      model: judge.model,
      mode: judge.mode,
      temperature: judge.temperature,
      samples: judge.samples,
      topLogprobs: logprob ? TOP_LOGPROBS : 0,
      minScoreMass: logprob ? minScoreMass : 0,
      prompt: formPromptHash(formKind),
      criterion: criterionHash(criterion),
      steps: steps.stepsHash,
      input: inputHashOf(item),
    };
    const key = hashValue(identity);
    const entry = await options.cache.get(key);
    const cached = Array.from({ length: judge.repeats }, (_, repeat) => entry?.repeats[repeat]);
    const missing = cached.map((_, i) => i).filter((i) => cached[i] === undefined);
    // Each repeat is kept as it is scored: the judge killed mid-answer keeps what it was paid for.
    const keep = entryWriter(options.cache, key, entry);
    const nKey = `${judge.backend.name}\n${judge.label}`;
    const outcome = missing.length
      ? await scoreRepeats(
          {
            backend: judge.backend,
            model: judge.model,
            mode: judge.mode,
            strategy: judge.strategy,
            strategyExplicit: judge.strategyExplicit,
            nIgnored: nIgnoredBy.get(nKey),
            temperature: judge.temperature,
            samples: judge.samples,
            messages,
            maxAttempts,
            minScoreMass,
            signal,
            run: (request) => underLimiters([...limiters, global], request),
            onScored: keep.add,
            seedBase: key,
          },
          missing,
        )
      : { records: [] };
    const fresh = outcome.records;
    if (outcome.nIgnored) nIgnoredBy.set(nKey, outcome.nIgnored);
    const fellBack = outcome.nIgnored !== undefined && judge.strategy === RepeatStrategy.SHARED_REQUEST;
    // Failed repeats too (scored ones were kept as they came), so a re-run reproduces the record.
    for (const record of fresh) if (record.failed) keep.add(record);
    await keep.written();
    // Kept for a retry above; the caller who cancelled meanwhile gets no answer.
    signal?.throwIfAborted();
    const byIndex = new Map<number, { record: RepeatRecord; cached: boolean }>();
    cached.forEach((record, i) => {
      if (record) byIndex.set(i, { record, cached: true });
    });
    for (const record of fresh) byIndex.set(record.repeatIndex, { record, cached: false });

    const repeats: RepeatScore[] = cached.map((_, i) => {
      const { record, cached: fromCache } = byIndex.get(i)!;
      return create(RepeatScoreSchema, {
        repeatIndex: i,
        score: record.score,
        rationale: record.rationale,
        rawOutput: record.rawOutput,
        failed: record.failed,
        error: record.error,
        cached: fromCache,
        requests: fromCache ? 0 : record.requests,
        scoreMass: record.scoreMass,
        samples: record.samples,
      });
    });
    const ok = repeats.filter((r) => !r.failed).map((r) => r.score);
    const spread = spreadOf(ok);
    return {
      stepsRequests: steps.requests,
      score: create(CriterionScoreSchema, {
        criterion: criterion.name,
        repeats,
        spread: create(SpreadSchema, spread),
        failedRepeats: repeats.length - ok.length,
        mode: judge.mode,
        judgeModel: judge.label,
        backend: judge.backend.name,
        promptHash: formPromptHash(formKind),
        stepsHash: steps.stepsHash,
        evaluationSteps: steps.steps,
        criterionHash: criterionHash(criterion),
        repeatStrategy: fellBack ? RepeatStrategy.INDEPENDENT_CALLS : judge.strategy,
        repeatStrategyReason: fellBack
          ? `fallback from the default shared request: ${outcome.nIgnored}, so each repeat was its own request`
          : judge.strategyReason,
        requests: repeats.reduce((sum, r) => sum + r.requests, 0),
        cachedRepeats: repeats.filter((r) => r.cached).length,
        temperature: judge.temperature,
        minScoreMass: logprob ? minScoreMass : 0,
      }),
    };
  }

  /** Scores one item on every criterion; `limiters` bound this call's requests (outermost first). */
  async function scoreItem(
    item: ScoreItem,
    criteria: readonly CriterionSpec[],
    judge: ResolvedJudge,
    limiters: readonly ConcurrencyLimiter[] = [],
    signal?: AbortSignal,
  ): Promise<ScoreResponse> {
    let stepsRequests = 0;
    const scores = await Promise.all(
      criteria.map(async (criterion) => {
        if (judge.kind === "reference") return scoreReference(item, criterion, judge);
        const result = await scoreWithModelTraced(item, criterion, judge, limiters, signal);
        stepsRequests += result.stepsRequests;
        return result.score;
      }),
    );
    return create(ScoreResponseSchema, { itemId: item.itemId, scores, stepsRequests });
  }

  /**
   * Scores a batch: `concurrency` items at once, and no more than `concurrency` of its LLM requests in flight
   * (so one item's twenty repeats cannot crowd out the others), then the reliability report (with agreement
   * with the compare judge and with human ratings, when given).
   */
  async function scoreBatch(
    items: readonly ScoreItem[],
    criteria: readonly CriterionSpec[],
    judge: ResolvedJudge,
    concurrency: number,
    compareJudge?: ResolvedJudge,
    signal?: AbortSignal,
    humanRatings: readonly HumanRating[] = [],
  ): Promise<BatchResult> {
    const limiter = createConcurrencyLimiter(concurrency);
    // The first failed item fails the batch: stop the other items' requests too instead of paying for them.
    const stop = new AbortController();
    const batchSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    setMaxListeners(concurrency + 16, batchSignal);
    const score = (j: ResolvedJudge) =>
      mapConcurrent(items, concurrency, async (item) => {
        try {
          return await scoreItem(item, criteria, j, [limiter], batchSignal);
        } catch (error) {
          stop.abort(error);
          throw error;
        }
      });
    const results = await score(judge);
    const compareResults = compareJudge ? await score(compareJudge) : [];
    return {
      results,
      compareResults,
      reliability: buildReliabilityReport({
        criteria: criteria.map((c) => c.name),
        results,
        judgeLabel: judge.label,
        compare: compareJudge ? { results: compareResults, label: compareJudge.label } : undefined,
        humanRatings,
      }),
    };
  }

  return { scoreItem, scoreBatch };
}

export type JudgeEngine = ReturnType<typeof createJudgeEngine>;

/**
 * Writes an answer-and-criterion's cache entry as its repeats come in. Writes go one at a time, each with every
 * repeat known by then, so a later one never lands before an earlier one; repeats that arrive while a write is
 * under way share the next write (a shared request's R repeats arrive together: one write).
 */
function entryWriter(cache: JsonStore<CachedRepeats>, key: string, entry: CachedRepeats | undefined) {
  const known: Record<number, RepeatRecord> = { ...entry?.repeats };
  let unwritten = false;
  let writing: Promise<void> = Promise.resolve();
  const write = async () => {
    if (!unwritten) return;
    unwritten = false;
    await cache.put(key, { repeats: { ...known } });
  };
  return {
    add(record: RepeatRecord) {
      known[record.repeatIndex] = record;
      unwritten = true;
      writing = writing.then(write, write);
      writing.catch(() => {}); // awaited by written(); not unhandled when scoring fails first
    },
    /** Resolves once everything added is written; rejects when the last write failed. */
    written: () => writing,
  };
}
