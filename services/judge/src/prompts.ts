/**
 * G-Eval prompts. One asks the judge model to write evaluation steps for a criterion (auto chain-of-thought,
 * run once per criterion and model, then frozen); the form the judge fills for each answer comes in two
 * endings: a rationale then "Score: N" (sampled modes), or the score alone (logprob weighting, as G-Eval).
 * Templates are versioned text; their SHA-256 goes into every score record and cache key, so an edit here
 * invalidates cached scores instead of silently mixing two prompts.
 */
import type { ChatMessage } from "@ragtune/llm";
import type { CriterionSpec } from "./criteria.js";
import { SCALE_MAX, SCALE_MIN } from "./criteria.js";
import { sha256Hex } from "./hash.js";

export const STEPS_TEMPLATE_ID = "geval-steps@1";
const STEPS_TEMPLATE = `You design evaluation procedures for grading answers to questions.
Criterion: {{name}} (scale {{min}}-{{max}})
Definition: {{definition}}
Scale anchors:
{{anchors}}

Write the evaluation steps a careful evaluator follows to score an answer on this criterion, given the question, the answer and, when available, the retrieved context and a reference answer.
Write 3 to 6 steps, one per line, numbered "1.", "2.", and so on. Write nothing else.`;

/** The form's shared part: criterion, frozen steps, the item. Its ending differs by scoring mode (below). */
const FORM_BODY = `You will be given a question and an answer to it. Your task is to rate the answer on one metric.
Please make sure you read and understand these instructions carefully.

Evaluation Criteria:
{{name}} ({{min}}-{{max}}) - {{definition}}
{{anchors}}

Evaluation Steps:
{{steps}}

Question:
{{question}}
{{context}}{{reference}}
Answer:
{{answer}}
`;
/** One gold answer, or several of which any one is correct (NQ-open's answer lists, Qasper's annotators). */
const REFERENCE_ONE = "\nReference answer:\n{{references}}\n";
const REFERENCE_MANY = "\nReference answers (each one is a correct answer):\n{{references}}\n";

export const FORM_TEMPLATE_ID = "geval-form@2";
/** SINGLE and N_SAMPLE: a short rationale, then the score, read strictly from the last line. */
const FORM_TEMPLATE = `${FORM_BODY}
Evaluation Form:
Write a short rationale (at most three sentences). Then write a last line of the form "Score: N", where N is one integer from {{min}} to {{max}}.`;

export const SCORE_ONLY_FORM_TEMPLATE_ID = "geval-form-score-only@1";
/**
 * LOGPROB_WEIGHTED: G-Eval's form, which asks for the score alone (the evaluation steps are the chain of
 * thought), so the first generated token is the score and its top logprobs are the distribution weighted.
 */
const SCORE_ONLY_FORM_TEMPLATE = `${FORM_BODY}
Evaluation Form (score ONLY, one integer from {{min}} to {{max}}, nothing else):

- {{name}}:`;

const hashTemplate = (id: string, template: string) =>
  sha256Hex(`${id}\n${template}\n${REFERENCE_ONE}\n${REFERENCE_MANY}`);
export const FORM_PROMPT_HASH = hashTemplate(FORM_TEMPLATE_ID, FORM_TEMPLATE);
export const SCORE_ONLY_FORM_PROMPT_HASH = hashTemplate(SCORE_ONLY_FORM_TEMPLATE_ID, SCORE_ONLY_FORM_TEMPLATE);
export const STEPS_PROMPT_HASH = sha256Hex(`${STEPS_TEMPLATE_ID}\n${STEPS_TEMPLATE}`);

export interface FormInput {
  question: string;
  answer: string;
  contexts: readonly string[];
  /** Every acceptable gold answer; empty when there is none. */
  referenceAnswers: readonly string[];
}

export type FormKind = "rationale" | "score-only";

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new Error(`template placeholder {{${key}}} has no value`);
    return values[key];
  });
}

function formatAnchors(criterion: CriterionSpec): string {
  return [...criterion.anchors]
    .sort((a, b) => a.score - b.score)
    .map((anchor) => `${anchor.score}: ${anchor.description}`)
    .join("\n");
}

function criterionValues(criterion: CriterionSpec): Record<string, string> {
  return {
    name: criterion.name,
    definition: criterion.definition,
    anchors: formatAnchors(criterion),
    min: String(SCALE_MIN),
    max: String(SCALE_MAX),
  };
}

export function buildStepsPrompt(criterion: CriterionSpec): ChatMessage[] {
  return [{ role: "user", content: fill(STEPS_TEMPLATE, criterionValues(criterion)) }];
}

function referenceSection(answers: readonly string[]): string {
  if (answers.length === 0) return "";
  if (answers.length === 1) return fill(REFERENCE_ONE, { references: answers[0] });
  return fill(REFERENCE_MANY, { references: answers.map((a) => `- ${a}`).join("\n") });
}

export function buildFormPrompt(
  criterion: CriterionSpec,
  steps: readonly string[],
  input: FormInput,
  kind: FormKind = "rationale",
): ChatMessage[] {
  const context = input.contexts.length
    ? `\nRetrieved context:\n${input.contexts.map((c, i) => `[${i + 1}] ${c}`).join("\n")}\n`
    : "";
  const content = fill(kind === "score-only" ? SCORE_ONLY_FORM_TEMPLATE : FORM_TEMPLATE, {
    ...criterionValues(criterion),
    steps: steps.map((s, i) => `${i + 1}. ${s}`).join("\n"),
    question: input.question,
    context,
    reference: referenceSection(input.referenceAnswers),
    answer: input.answer,
  });
  return [{ role: "user", content }];
}

/** The form's content hash as recorded with scores and in cache keys. */
export function formPromptHash(kind: FormKind): string {
  return kind === "score-only" ? SCORE_ONLY_FORM_PROMPT_HASH : FORM_PROMPT_HASH;
}
