/** The judge over any OpenAI-compatible chat endpoint, through the generator's shared HTTP client. */
import { chatChoiceLogprobs, type OpenAiClient } from "@ragtune/llm";
import type { JudgeBackend, JudgeCompletion, JudgeCompletionRequest } from "../judge-backend.js";

export interface OpenAiJudgeBackendOptions {
  client: OpenAiClient;
  /** Backend name requests use in ModelRef.backend. Default "openai". */
  name?: string;
  /** Whether the server honours n > 1 (OpenAI, vLLM: yes; llama.cpp server, Ollama: no). Default true. */
  supportsN?: boolean;
  /** Largest n per request. Default 128 (OpenAI's limit). */
  maxN?: number;
  /** Whether the server returns top_logprobs. Default true. */
  supportsLogprobs?: boolean;
}

export function createOpenAiJudgeBackend(options: OpenAiJudgeBackendOptions): JudgeBackend {
  const { client } = options;
  return {
    name: options.name ?? "openai",
    system: "openai",
    supportsN: options.supportsN ?? true,
    maxN: options.supportsN === false ? 1 : (options.maxN ?? 128),
    supportsLogprobs: options.supportsLogprobs ?? true,
    async complete(request: JudgeCompletionRequest, signal?: AbortSignal): Promise<JudgeCompletion> {
      // A LoRA adapter is served under its own model name (vLLM --lora-modules / load_lora_adapter).
      const model = request.model.adapter || request.model.baseModel;
      const response = await client.chatCompletion(
        {
          model,
          messages: request.messages,
          temperature: request.temperature,
          max_tokens: request.maxTokens,
          ...(request.n > 1 ? { n: request.n } : {}),
          ...(request.topLogprobs > 0 ? { logprobs: true, top_logprobs: request.topLogprobs } : {}),
          ...(request.seed !== undefined ? { seed: request.seed } : {}),
        },
        { signal },
      );
      return {
        model: response.model,
        inputTokens: response.usage?.prompt_tokens ?? 0,
        outputTokens: response.usage?.completion_tokens ?? 0,
        choices: [...response.choices]
          .sort((a, b) => a.index - b.index)
          .map((choice) => ({
            text: choice.message.content ?? "",
            logprobs: request.topLogprobs > 0 ? chatChoiceLogprobs(choice) : undefined,
            finishReason: choice.finish_reason ?? undefined,
          })),
      };
    },
  };
}
