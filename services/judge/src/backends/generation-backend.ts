/**
 * The judge over one of the generator's in-process backends (llama.cpp): text generation without n or
 * logprobs, but with grammar-constrained output. When the form is asked for, the model must produce
 * {"rationale": "...", "score": 1..5} (the grammar makes any other shape impossible), which is turned into
 * the "rationale\nScore: N" text the strict parser reads; anything else (e.g. JSON cut off by max tokens) is
 * passed through as it is and fails parsing like any other bad output.
 *
 * The generator's GenerationBackend is matched structurally (only what is used here), so this module does not
 * depend on where the generator keeps that type.
 */
import type { JudgeBackend, JudgeCompletion, JudgeCompletionRequest } from "../judge-backend.js";

interface ResolvedModelLike {
  backend: string;
  baseModel: string;
  adapter: string;
  contextWindow: number | undefined;
}

export interface TextGenerationBackend {
  readonly name: string;
  resolve(baseModel: string, adapter: string, signal?: AbortSignal): Promise<ResolvedModelLike>;
  generate(input: {
    model: ResolvedModelLike;
    question: string;
    contexts: [];
    prompt: {
      templateId: string;
      templateHash: string;
      system: string;
      user: string;
      messages: JudgeCompletionRequest["messages"];
      completionPrompt: string;
    };
    sampling: { temperature: number; topP: number; maxTokens: number; seed: number; stop: string[] };
    jsonSchema?: object;
    signal?: AbortSignal;
  }): Promise<{ text: string; finishReason: string; inputTokens: number; outputTokens: number }>;
}

export const FORM_JSON_SCHEMA = {
  type: "object",
  properties: {
    // 200 characters keep the whole form inside FORM_MAX_TOKENS even with a byte-level vocabulary.
    rationale: { type: "string", maxLength: 200 },
    score: { enum: [1, 2, 3, 4, 5] },
  },
  required: ["rationale", "score"],
} as const;

/** {"rationale","score"} → the text form; undefined when the output is not that JSON. */
export function formJsonToText(raw: string): string | undefined {
  try {
    const parsed = JSON.parse(raw) as { rationale?: unknown; score?: unknown };
    if (typeof parsed.rationale !== "string" || typeof parsed.score !== "number") return undefined;
    return `${parsed.rationale.trim()}\nScore: ${parsed.score}`;
  } catch {
    return undefined;
  }
}

export function createGenerationJudgeBackend(backend: TextGenerationBackend, system = "llama_cpp"): JudgeBackend {
  return {
    name: backend.name,
    system,
    supportsN: false,
    maxN: 1,
    supportsLogprobs: false,
    async complete(request: JudgeCompletionRequest, signal?: AbortSignal): Promise<JudgeCompletion> {
      if (request.n !== 1)
        throw new RangeError(`backend ${backend.name} serves one choice per request, not ${request.n}`);
      const model = await backend.resolve(request.model.baseModel, request.model.adapter, signal);
      const user = request.messages.map((m) => m.content).join("\n\n");
      const output = await backend.generate({
        model,
        question: "",
        contexts: [],
        prompt: {
          templateId: "judge",
          templateHash: "",
          system: "",
          user,
          messages: request.messages,
          // Plain completion without a chat template: the form ends where the judge's answer starts.
          completionPrompt: `${user}\n`,
        },
        sampling: {
          temperature: request.temperature,
          topP: 0,
          maxTokens: request.maxTokens,
          seed: request.seed ?? 0,
          stop: [],
        },
        jsonSchema: request.constrainToForm ? FORM_JSON_SCHEMA : undefined,
        signal,
      });
      const text = request.constrainToForm ? (formJsonToText(output.text) ?? output.text) : output.text;
      return {
        model: model.adapter ? `${model.baseModel}+${model.adapter}` : model.baseModel,
        inputTokens: output.inputTokens,
        outputTokens: output.outputTokens,
        choices: [{ text, finishReason: output.finishReason }],
      };
    },
  };
}
