/**
 * What the judge needs from an LLM: chat completion with n choices, temperature and per-token top logprobs.
 * Adapters in ./backends map the generator's LLM clients onto this, so scoring code never depends on one
 * vendor's wire format and tests can run it against the real HTTP client and a local fake server.
 */
import type { ChatMessage, TokenLogprob } from "@ragtune/llm";

export type { ChatMessage, TokenLogprob };

export interface JudgeChoice {
  text: string;
  /** Per generated token, when logprobs were asked for and the backend returned them. */
  logprobs?: TokenLogprob[];
  finishReason?: string;
}

export interface JudgeModel {
  baseModel: string;
  adapter: string;
}

export interface JudgeCompletionRequest {
  model: JudgeModel;
  messages: ChatMessage[];
  temperature: number;
  maxTokens: number;
  /** Choices wanted from this one request; only > 1 when the backend supports n. */
  n: number;
  /** Alternatives per token to return; 0: no logprobs. */
  topLogprobs: number;
  /** Restrict the output to the form's shape where the backend can (llama.cpp grammar); otherwise ignored. */
  constrainToForm?: boolean;
  /** Sampling seed, where the backend honours one (OpenAI best-effort, vLLM, llama.cpp); undefined: none sent. */
  seed?: number;
}

export interface JudgeCompletion {
  choices: JudgeChoice[];
  inputTokens: number;
  outputTokens: number;
  /** Model name the backend reports. */
  model: string;
}

export interface JudgeBackend {
  /** Name as configured, e.g. "openai", "llamacpp". */
  readonly name: string;
  /** Whether one request can return several independent choices (`n`). */
  readonly supportsN: boolean;
  /** Largest n of one request. */
  readonly maxN: number;
  /** Whether the backend returns top logprobs per generated token. */
  readonly supportsLogprobs: boolean;
  /** GenAI semantic-convention provider name (gen_ai.provider.name), e.g. "openai". */
  readonly system: string;
  complete(request: JudgeCompletionRequest, signal?: AbortSignal): Promise<JudgeCompletion>;
}
