/**
 * G-Eval prompts. Two templates: one asks the judge model to write evaluation steps for a criterion (auto
 * chain-of-thought, run once per criterion and model, then frozen); the other is the form the judge fills for
 * each answer. Templates are versioned text; their SHA-256 goes into every score record and cache key, so an
 * edit here invalidates cached scores instead of silently mixing two prompts.
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

export const FORM_TEMPLATE_ID = "geval-form@1";
const FORM_TEMPLATE = `You will be given a question and an answer to it. Your task is to rate the answer on one metric.
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

Evaluation Form:
Write a short rationale (at most three sentences). Then write a last line of the form "Score: N", where N is one integer from {{min}} to {{max}}.`;

export const FORM_PROMPT_HASH = sha256Hex(`${FORM_TEMPLATE_ID}\n${FORM_TEMPLATE}`);
export const STEPS_PROMPT_HASH = sha256Hex(`${STEPS_TEMPLATE_ID}\n${STEPS_TEMPLATE}`);

export interface FormInput {
  question: string;
  answer: string;
  contexts: readonly string[];
  referenceAnswer: string;
}

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

export function buildFormPrompt(criterion: CriterionSpec, steps: readonly string[], input: FormInput): ChatMessage[] {
  const context = input.contexts.length
    ? `\nRetrieved context:\n${input.contexts.map((c, i) => `[${i + 1}] ${c}`).join("\n")}\n`
    : "";
  const reference = input.referenceAnswer ? `\nReference answer:\n${input.referenceAnswer}\n` : "";
  const content = fill(FORM_TEMPLATE, {
    ...criterionValues(criterion),
    steps: steps.map((s, i) => `${i + 1}. ${s}`).join("\n"),
    question: input.question,
    context,
    reference,
    answer: input.answer,
  });
  return [{ role: "user", content }];
}
