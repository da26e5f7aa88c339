/**
 * G-Eval's auto chain-of-thought: the judge model writes evaluation steps for a criterion once; they are then
 * frozen in the store under (backend, model, criterion content, steps prompt) and reused for every answer,
 * so all scores of an experiment follow the same steps and record the same steps hash.
 */
import type { CriterionSpec } from "./criteria.js";
import { criterionHash } from "./criteria.js";
import { hashValue, sha256Hex } from "./hash.js";
import type { JudgeBackend, JudgeModel } from "./judge-backend.js";
import { JudgeOutputError, parseEvaluationSteps } from "./output-parsing.js";
import { buildStepsPrompt, STEPS_PROMPT_HASH } from "./prompts.js";
import type { JsonStore } from "./stores/blob-store.js";

export interface FrozenSteps {
  steps: string[];
  /** SHA-256 of the steps joined by newlines. */
  stepsHash: string;
  /** "generated" by the judge model or "given" by the caller. */
  origin: "generated" | "given";
  /** Judge output the steps were parsed from (empty when given). */
  rawOutput: string;
  createdAt: string;
  /** LLM requests spent writing them (0 when they came from the store or the caller). */
  requests: number;
}

export class StepsGenerationError extends Error {
  constructor(
    readonly criterion: string,
    reason: string,
  ) {
    super(`the judge model could not write evaluation steps for criterion '${criterion}': ${reason}`);
    this.name = "StepsGenerationError";
  }
}

export function stepsHashOf(steps: readonly string[]): string {
  return sha256Hex(steps.join("\n"));
}

export interface EvaluationStepsOptions {
  store: JsonStore<FrozenSteps>;
  /** Attempts at an unparseable steps output before giving up. Default 3. */
  maxAttempts?: number;
}

export function createEvaluationSteps(options: EvaluationStepsOptions) {
  const maxAttempts = options.maxAttempts ?? 3;
  const inFlight = new Map<string, Promise<FrozenSteps>>();

  async function generate(
    backend: JudgeBackend,
    model: JudgeModel,
    criterion: CriterionSpec,
    signal: AbortSignal | undefined,
  ): Promise<FrozenSteps> {
    let lastError = "";
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const completion = await backend.complete(
        { model, messages: buildStepsPrompt(criterion), temperature: 0, maxTokens: 400, n: 1, topLogprobs: 0 },
        signal,
      );
      const raw = completion.choices[0]?.text ?? "";
      try {
        const steps = parseEvaluationSteps(raw);
        return {
          steps,
          stepsHash: stepsHashOf(steps),
          origin: "generated",
          rawOutput: raw,
          createdAt: new Date().toISOString(),
          requests: attempt,
        };
      } catch (error) {
        if (!(error instanceof JudgeOutputError)) throw error;
        lastError = error.message;
      }
    }
    throw new StepsGenerationError(criterion.name, `${lastError} (after ${maxAttempts} attempts)`);
  }

  return {
    /** The criterion's frozen steps for this judge model, writing and storing them on first use. */
    async stepsFor(
      backend: JudgeBackend,
      model: JudgeModel,
      criterion: CriterionSpec,
      signal?: AbortSignal,
    ): Promise<FrozenSteps> {
      if (criterion.evaluationSteps?.length) {
        const steps = criterion.evaluationSteps;
        return { steps, stepsHash: stepsHashOf(steps), origin: "given", rawOutput: "", createdAt: "", requests: 0 };
      }
      const key = hashValue({
        backend: backend.name,
        model,
        criterion: criterionHash(criterion),
        prompt: STEPS_PROMPT_HASH,
      });
      const pending = inFlight.get(key);
      if (pending) return { ...(await pending), requests: 0 };
      const work = (async () => {
        const stored = await options.store.get(key);
        if (stored) return { ...stored, requests: 0 };
        const fresh = await generate(backend, model, criterion, signal);
        const frozen = await options.store.putIfAbsent(key, { ...fresh, requests: 0 });
        return { ...frozen, requests: fresh.requests };
      })();
      inFlight.set(key, work);
      try {
        return await work;
      } finally {
        inFlight.delete(key);
      }
    },
  };
}

export type EvaluationSteps = ReturnType<typeof createEvaluationSteps>;
