/**
 * Criteria are data: a name, what is judged, and anchors of the 1..5 scale. The two built-ins carry the
 * wording of "Fine-Tuning or Fine-Failing?" (arXiv 2406.11201); callers add their own per request.
 */
import { hashValue } from "./hash.js";

export const SCALE_MIN = 1;
export const SCALE_MAX = 5;
export const CRITERION_NAME_PATTERN = /^[a-z0-9_-]{1,64}$/;

export interface ScaleAnchorSpec {
  score: number;
  description: string;
}

export interface CriterionSpec {
  name: string;
  definition: string;
  anchors: ScaleAnchorSpec[];
  /** Frozen evaluation steps the caller wrote; absent: the judge model writes them once. */
  evaluationSteps?: string[];
}

export const ACCURACY: CriterionSpec = {
  name: "accuracy",
  definition:
    "How well the answer addresses the question: its relevance to the question, whether it gives sufficient " +
    "supporting evidence, and that it contains no irrelevant or misleading information.",
  anchors: [
    { score: 1, description: "Poor: the answer does not address the question, or is misleading or wrong." },
    { score: 5, description: "Excellent: the answer is relevant, well supported and free of misleading content." },
  ],
};

export const COMPLETENESS: CriterionSpec = {
  name: "completeness",
  definition: "How far the answer covers the topics and details the question asks for.",
  anchors: [
    { score: 1, description: "Incomplete or irrelevant: the answer leaves out what the question asks for." },
    { score: 5, description: "Complete and comprehensive: every topic and detail the question asks for is covered." },
  ],
};

export const BUILT_IN_CRITERIA: readonly CriterionSpec[] = [ACCURACY, COMPLETENESS];
export const DEFAULT_CRITERIA_NAMES: readonly string[] = ["accuracy", "completeness"];

/** Identity of a criterion's content: a changed definition or anchor is a different criterion for the cache. */
export function criterionHash(criterion: CriterionSpec): string {
  return hashValue({
    name: criterion.name,
    definition: criterion.definition,
    anchors: [...criterion.anchors].sort((a, b) => a.score - b.score),
  });
}

/** Looks names up among the caller's criteria first, then the built-ins. */
export function createCriteriaCatalog(custom: readonly CriterionSpec[] = []) {
  const byName = new Map<string, CriterionSpec>();
  for (const criterion of BUILT_IN_CRITERIA) byName.set(criterion.name, criterion);
  for (const criterion of custom) byName.set(criterion.name, criterion);
  return {
    get: (name: string): CriterionSpec | undefined => byName.get(name),
    has: (name: string): boolean => byName.has(name),
  };
}
