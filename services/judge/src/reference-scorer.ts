/**
 * The reference-based scorer: NOT G-Eval and no model. It measures how far an answer agrees with the gold
 * answer and gold evidence by token overlap (SQuAD-style normalisation) and maps that to the 1..5 scale, so an
 * experiment can run end to end where no judge model is available. It is deterministic: one repeat says all.
 *
 *   support     = share of the answer's tokens found in gold answer ∪ evidence   (precision)
 *   goldRecall  = share of the gold answer's tokens found in the answer         (recall; 1 if the whole gold
 *                                                                               answer appears verbatim)
 *   accuracy     = 1 + 4 · (goldRecall + support) / 2
 *   completeness = 1 + 4 · goldRecall
 * With no gold answer but evidence, goldRecall is measured against the evidence tokens the answer could
 * cover, i.e. it falls back to support; the rule is stated here and in the README, not chosen at run time.
 * With several acceptable gold answers each criterion takes its best match over them (as SQuAD's metrics take
 * the maximum over ground truths): an answer that matches any one of them is as good as one that matches the
 * first.
 */
import { sha256Hex } from "./hash.js";

export const REFERENCE_SCORER_NAME = "reference-scorer";
export const REFERENCE_SCORER_VERSION = "reference-scorer@2";
export const REFERENCE_SCORER_HASH = sha256Hex(
  `${REFERENCE_SCORER_VERSION}\naccuracy=1+4*(goldRecall+support)/2\ncompleteness=1+4*goldRecall\nmax over gold answers`,
);
export const REFERENCE_CRITERIA: readonly string[] = ["accuracy", "completeness"];

const STOPWORDS = new Set(
  "a an the of and or to in on at by for with is are was were be been it its this that as from".split(" "),
);

export function normalizeText(text: string): string {
  return text
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^\p{L}\p{N}\s]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
}

export function contentTokens(text: string): string[] {
  const tokens = normalizeText(text).split(" ").filter(Boolean);
  const content = tokens.filter((t) => !STOPWORDS.has(t));
  // An answer made only of stopwords ("it is") still has tokens to compare.
  return content.length ? content : tokens;
}

function countTokens(tokens: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

/** Multiset overlap |a ∩ b|. */
function overlap(a: readonly string[], b: Map<string, number>): number {
  const remaining = new Map(b);
  let shared = 0;
  for (const t of a) {
    const left = remaining.get(t) ?? 0;
    if (left > 0) {
      shared++;
      remaining.set(t, left - 1);
    }
  }
  return shared;
}

export interface ReferenceInput {
  answer: string;
  /** Every acceptable gold answer (may be empty when there is evidence). */
  referenceAnswers: readonly string[];
  referenceEvidence: readonly string[];
}

export interface ReferenceScores {
  accuracy: number;
  completeness: number;
  support: number;
  goldRecall: number;
  rationale: string;
}

interface Match {
  accuracy: number;
  completeness: number;
  support: number;
  goldRecall: number;
  /** Index of the gold answer matched; -1 for evidence only. */
  reference: number;
}

function matchOne(answer: string, reference: string, evidence: readonly string[], index: number): Match {
  const answerTokens = contentTokens(answer);
  const gold = contentTokens(reference);
  const support = answerTokens.length
    ? overlap(answerTokens, countTokens([...gold, ...evidence])) / answerTokens.length
    : 0;
  let goldRecall: number;
  if (gold.length === 0) goldRecall = support;
  else if (answerTokens.length && ` ${normalizeText(answer)} `.includes(` ${normalizeText(reference)} `))
    goldRecall = 1;
  else goldRecall = overlap(gold, countTokens(answerTokens)) / gold.length;
  return {
    accuracy: 1 + 4 * ((goldRecall + support) / 2),
    completeness: 1 + 4 * goldRecall,
    support,
    goldRecall,
    reference: gold.length ? index : -1,
  };
}

export function scoreAgainstReference(input: ReferenceInput): ReferenceScores {
  const evidence = input.referenceEvidence.flatMap(contentTokens);
  const references = input.referenceAnswers.filter((r) => contentTokens(r).length > 0);
  if (references.length === 0 && evidence.length === 0) {
    throw new RangeError("the reference scorer needs a reference answer or reference evidence");
  }
  const matches = (references.length ? references : [""]).map((r, i) => matchOne(input.answer, r, evidence, i));
  const best = (key: "accuracy" | "completeness") =>
    matches.reduce((top, m) => (m[key] > top[key] ? m : top), matches[0]);
  const accuracy = best("accuracy");
  const completeness = best("completeness");
  const describe = (m: Match) =>
    `support=${m.support.toFixed(3)} goldRecall=${m.goldRecall.toFixed(3)}` +
    (references.length > 1 ? ` against gold answer ${m.reference + 1} of ${references.length}` : "");
  const rationale =
    accuracy === completeness
      ? describe(accuracy)
      : `accuracy: ${describe(accuracy)}; completeness: ${describe(completeness)}`;
  return {
    accuracy: accuracy.accuracy,
    completeness: completeness.completeness,
    support: accuracy.support,
    goldRecall: completeness.goldRecall,
    rationale: `${rationale} (token overlap, ${REFERENCE_SCORER_VERSION})`,
  };
}
