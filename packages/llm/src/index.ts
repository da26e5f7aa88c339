/** @ragtune/llm: a client for OpenAI-compatible LLM servers, shared by the generator and the judge. */
export { type BackoffOptions, backoffDelayMs, parseRetryAfterMs } from "./backoff.js";
export { type ConcurrencyLimiter, createConcurrencyLimiter } from "./concurrency-limiter.js";
export { LlmError, type LlmErrorKind } from "./errors.js";
export { chatChoiceLogprobs, completionChoiceLogprobs } from "./logprobs.js";
export {
  createOpenAiClient,
  type OpenAiClient,
  type OpenAiClientOptions,
  type RequestOptions,
} from "./openai-client.js";
export { readSseData } from "./sse.js";
export type * from "./types.js";
