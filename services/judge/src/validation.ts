/**
 * Every rule a JudgeService request must satisfy, in one place. Each failure is INVALID_ARGUMENT naming the
 * field path, e.g. "criteria[1]: unknown criterion 'x'". Returns the criteria the request names, resolved.
 */
import type { Criterion, HumanRating, JudgeConfig, ScoreItem } from "@ragtune/contracts/judge";
import { RepeatStrategy, ScoringMode } from "@ragtune/contracts/judge";
import { RepeatStrategySchema, ScoringModeSchema } from "@ragtune/contracts/judge";
import { invalidArgument, requireKnownEnum, requireNonEmpty, requirePresent, requireRange } from "@ragtune/runtime";
import {
  BUILT_IN_CRITERIA,
  CRITERION_NAME_PATTERN,
  type CriterionSpec,
  createCriteriaCatalog,
  DEFAULT_CRITERIA_NAMES,
  SCALE_MAX,
  SCALE_MIN,
} from "./criteria.js";
import { referenceAnswersOf } from "./reference-answers.js";
import { REFERENCE_CRITERIA } from "./reference-scorer.js";
import { DEFAULT_REPEATS, DEFAULT_SAMPLES } from "./resolved-judge.js";

export const LIMITS = {
  items: 10_000,
  repeats: 100,
  samples: 100,
  temperature: 2,
  concurrency: 256,
  customCriteria: 32,
  evaluationSteps: 12,
  itemIdLength: 256,
  textLength: 200_000,
  referenceAnswers: 100,
  humanRatings: 100_000,
} as const;

export function validateCustomCriteria(criteria: readonly Criterion[]): CriterionSpec[] {
  if (criteria.length > LIMITS.customCriteria) {
    throw invalidArgument("custom_criteria", `at most ${LIMITS.customCriteria} criteria`);
  }
  const seen = new Set<string>();
  return criteria.map((criterion, i) => {
    const field = `custom_criteria[${i}]`;
    if (!CRITERION_NAME_PATTERN.test(criterion.name)) {
      throw invalidArgument(`${field}.name`, "must be 1..64 characters of [a-z0-9_-]");
    }
    if (BUILT_IN_CRITERIA.some((b) => b.name === criterion.name)) {
      throw invalidArgument(`${field}.name`, `'${criterion.name}' is a built-in criterion; choose another name`);
    }
    if (seen.has(criterion.name)) throw invalidArgument(`${field}.name`, `'${criterion.name}' is defined twice`);
    seen.add(criterion.name);
    requireNonEmpty(`${field}.definition`, criterion.definition);
    if (criterion.anchors.length === 0) throw invalidArgument(`${field}.anchors`, "must describe at least one score");
    const scores = new Set<number>();
    criterion.anchors.forEach((anchor, j) => {
      requireRange(`${field}.anchors[${j}].score`, anchor.score, SCALE_MIN, SCALE_MAX);
      if (scores.has(anchor.score))
        throw invalidArgument(`${field}.anchors[${j}].score`, `${anchor.score} given twice`);
      scores.add(anchor.score);
      requireNonEmpty(`${field}.anchors[${j}].description`, anchor.description);
    });
    if (criterion.evaluationSteps.length > LIMITS.evaluationSteps) {
      throw invalidArgument(`${field}.evaluation_steps`, `at most ${LIMITS.evaluationSteps} steps`);
    }
    criterion.evaluationSteps.forEach((step, j) => {
      requireNonEmpty(`${field}.evaluation_steps[${j}]`, step);
    });
    return {
      name: criterion.name,
      definition: criterion.definition,
      anchors: criterion.anchors.map((a) => ({ score: a.score, description: a.description })),
      ...(criterion.evaluationSteps.length ? { evaluationSteps: [...criterion.evaluationSteps] } : {}),
    };
  });
}

export function validateCriteria(
  names: readonly string[],
  custom: readonly Criterion[],
  mode: ScoringMode,
): CriterionSpec[] {
  const catalog = createCriteriaCatalog(validateCustomCriteria(custom));
  const wanted = names.length ? names : DEFAULT_CRITERIA_NAMES;
  const seen = new Set<string>();
  return wanted.map((name, i) => {
    const criterion = catalog.get(name);
    if (!criterion) throw invalidArgument(`criteria[${i}]`, `unknown criterion '${name}'`);
    if (seen.has(name)) throw invalidArgument(`criteria[${i}]`, `criterion '${name}' is named twice`);
    seen.add(name);
    if (mode === ScoringMode.REFERENCE && !REFERENCE_CRITERIA.includes(name)) {
      throw invalidArgument(`criteria[${i}]`, `the reference scorer judges only ${REFERENCE_CRITERIA.join(" and ")}`);
    }
    return criterion;
  });
}

export function validateJudgeConfig(field: string, config: JudgeConfig | undefined): JudgeConfig {
  const judge = requirePresent(field, config);
  requireKnownEnum(`${field}.mode`, judge.mode, ScoringModeSchema);
  requireKnownEnum(`${field}.repeat_strategy`, judge.repeatStrategy, RepeatStrategySchema, { allowUnspecified: true });
  requireRange(`${field}.repeats`, judge.repeats, 0, LIMITS.repeats);
  requireRange(`${field}.samples`, judge.samples, 0, LIMITS.samples);
  requireRange(`${field}.temperature`, judge.temperature, 0, LIMITS.temperature);
  if (judge.samples && judge.mode !== ScoringMode.N_SAMPLE) {
    throw invalidArgument(`${field}.samples`, "only SCORING_MODE_N_SAMPLE takes samples");
  }
  if (judge.mode === ScoringMode.LOGPROB_WEIGHTED && judge.repeats > 1) {
    // Asking again reads the same score-token distribution: the repeats would be copies with spread 0.
    throw invalidArgument(
      `${field}.repeats`,
      `SCORING_MODE_LOGPROB_WEIGHTED takes 1 repeat, got ${judge.repeats}: logprob-weighted form filling is ` +
        "deterministic per request (every request of one prompt reads the same score-token distribution, so " +
        "more repeats would be copies with spread 0); ask for 1 (or leave it 0), or use SCORING_MODE_SINGLE or " +
        "SCORING_MODE_N_SAMPLE for independent sampled repeats",
    );
  }
  if (judge.mode === ScoringMode.REFERENCE && judge.repeatStrategy === RepeatStrategy.SHARED_REQUEST) {
    throw invalidArgument(`${field}.repeat_strategy`, "the reference scorer makes no requests");
  }
  if (judge.greedy) requireSampledOnce(field, judge);
  return judge;
}

/**
 * Greedy decoding gives one prompt the same output every time: repeats (or samples) drawn that way are copies
 * whose spread is zero by construction, so greedy is allowed only where each prompt is sampled once.
 */
function requireSampledOnce(field: string, judge: JudgeConfig): void {
  if (judge.temperature > 0) {
    throw invalidArgument(`${field}.greedy`, `conflicts with temperature ${judge.temperature}; set one of them`);
  }
  const repeats = judge.repeats || DEFAULT_REPEATS;
  const samples = judge.mode === ScoringMode.N_SAMPLE ? judge.samples || DEFAULT_SAMPLES : 1;
  if (judge.mode === ScoringMode.SINGLE || judge.mode === ScoringMode.N_SAMPLE) {
    if (repeats * samples > 1) {
      const what = samples > 1 ? `${repeats} repeats × ${samples} samples` : `${repeats} repeats`;
      throw invalidArgument(
        `${field}.greedy`,
        `temperature 0 would make the ${what} copies of one output (spread 0 by construction); ` +
          "leave greedy unset to sample at temperature 1.0, or ask for 1 repeat",
      );
    }
  }
}

export function validateItem(field: string, item: ScoreItem | undefined, mode: ScoringMode): ScoreItem {
  const it = requirePresent(field, item);
  if (it.itemId.length > LIMITS.itemIdLength) {
    throw invalidArgument(`${field}.item_id`, `at most ${LIMITS.itemIdLength} characters`);
  }
  requireNonEmpty(`${field}.question`, it.question);
  const texts: Array<[string, string]> = [
    ["question", it.question],
    ["answer", it.answer],
    ["reference_answer", it.referenceAnswer],
    ...it.referenceAnswers.map((a, i): [string, string] => [`reference_answers[${i}]`, a]),
    ...it.contexts.map((c, i): [string, string] => [`contexts[${i}]`, c]),
    ...it.referenceEvidence.map((e, i): [string, string] => [`reference_evidence[${i}]`, e]),
  ];
  for (const [name, text] of texts) {
    if (text.length > LIMITS.textLength) {
      throw invalidArgument(`${field}.${name}`, `at most ${LIMITS.textLength} characters`);
    }
  }
  if (it.referenceAnswers.length > LIMITS.referenceAnswers) {
    throw invalidArgument(`${field}.reference_answers`, `at most ${LIMITS.referenceAnswers} answers`);
  }
  if (
    mode === ScoringMode.REFERENCE &&
    referenceAnswersOf(it).length === 0 &&
    !it.referenceEvidence.some((e) => e.trim())
  ) {
    throw invalidArgument(`${field}.reference_answers`, "SCORING_MODE_REFERENCE needs a reference answer or evidence");
  }
  return it;
}

export function validateBatchShape(itemCount: number, concurrency: number): void {
  requireRange("items", itemCount, 1, LIMITS.items);
  requireRange("concurrency", concurrency, 0, LIMITS.concurrency);
}

/**
 * Human ratings name an item of the batch by its item_id (which must then be unique in the batch, or a rating
 * could belong to several answers) and one of the batch's criteria, with a score on the 1..5 scale.
 */
export function validateHumanRatings(
  ratings: readonly HumanRating[],
  items: readonly ScoreItem[],
  criteria: readonly string[],
): void {
  if (ratings.length === 0) return;
  if (ratings.length > LIMITS.humanRatings) {
    throw invalidArgument("human_ratings", `at most ${LIMITS.humanRatings} ratings`);
  }
  const ids = new Map<string, number>();
  for (const item of items) ids.set(item.itemId, (ids.get(item.itemId) ?? 0) + 1);
  ratings.forEach((rating, i) => {
    const field = `human_ratings[${i}]`;
    const count = ids.get(rating.itemId) ?? 0;
    if (count === 0) throw invalidArgument(`${field}.item_id`, `no item of the batch has item_id '${rating.itemId}'`);
    if (count > 1) {
      throw invalidArgument(`${field}.item_id`, `${count} items of the batch have item_id '${rating.itemId}'`);
    }
    if (!criteria.includes(rating.criterion)) {
      throw invalidArgument(`${field}.criterion`, `'${rating.criterion}' is not one of the batch's criteria`);
    }
    requireRange(`${field}.score`, rating.score, SCALE_MIN, SCALE_MAX);
  });
}
