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
 */
import { sha256Hex } from "./hash.js";

export const REFERENCE_SCORER_NAME = "reference-scorer";
export const REFERENCE_SCORER_VERSION = "reference-scorer@1";
export const REFERENCE_SCORER_HASH = sha256Hex(
  `${REFERENCE_SCORER_VERSION}\naccuracy=1+4*(goldRecall+support)/2\ncompleteness=1+4*goldRecall`,
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
  referenceAnswer: string;
  referenceEvidence: readonly string[];
}

export interface ReferenceScores {
  accuracy: number;
  completeness: number;
  support: number;
  goldRecall: number;
  rationale: string;
}

export function scoreAgainstReference(input: ReferenceInput): ReferenceScores {
  const answer = contentTokens(input.answer);
  const gold = contentTokens(input.referenceAnswer);
  const evidence = input.referenceEvidence.flatMap(contentTokens);
  if (gold.length === 0 && evidence.length === 0) {
    throw new RangeError("the reference scorer needs a reference answer or reference evidence");
  }
  const support = answer.length ? overlap(answer, countTokens([...gold, ...evidence])) / answer.length : 0;
  let goldRecall: number;
  if (gold.length === 0) goldRecall = support;
  else if (answer.length && ` ${normalizeText(input.answer)} `.includes(` ${normalizeText(input.referenceAnswer)} `))
    goldRecall = 1;
  else goldRecall = overlap(gold, countTokens(answer)) / gold.length;
  const accuracy = 1 + 4 * ((goldRecall + support) / 2);
  const completeness = 1 + 4 * goldRecall;
  return {
    accuracy,
    completeness,
    support,
    goldRecall,
    rationale: `support=${support.toFixed(3)} goldRecall=${goldRecall.toFixed(3)} (token overlap, ${REFERENCE_SCORER_VERSION})`,
  };
}
