/** Wire types of the OpenAI-compatible HTTP API, limited to the fields ragtune reads or writes. */

export type ChatRole = "system" | "user" | "assistant";

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Sampling fields shared by chat and plain completions. */
export interface SamplingFields {
  model: string;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  /** Number of choices to generate. */
  n?: number;
  seed?: number;
  stop?: string[];
  /** JSON-schema constrained output, where the server supports it (vLLM, llama.cpp server, OpenAI). */
  response_format?: { type: "json_object" } | { type: "json_schema"; json_schema: { name: string; schema: object } };
}

export interface ChatCompletionRequest extends SamplingFields {
  messages: ChatMessage[];
  /** Return log probabilities of the output tokens. */
  logprobs?: boolean;
  /** Alternatives per position, 0..20; needs logprobs. */
  top_logprobs?: number;
}

export interface CompletionRequest extends SamplingFields {
  prompt: string;
  /** Legacy completions: number of alternatives per position (0..5 on OpenAI, more on vLLM). */
  logprobs?: number;
  echo?: boolean;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens?: number;
}

export interface ChatLogprobToken {
  token: string;
  logprob: number;
  bytes?: number[] | null;
  top_logprobs?: Array<{ token: string; logprob: number; bytes?: number[] | null }>;
}

export interface ChatCompletionChoice {
  index: number;
  message: { role: ChatRole; content: string | null };
  finish_reason: string | null;
  logprobs?: { content: ChatLogprobToken[] | null } | null;
}

export interface ChatCompletionResponse {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: ChatCompletionChoice[];
  usage?: Usage;
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: Array<number | null>;
  top_logprobs: Array<Record<string, number> | null> | null;
  text_offset?: number[];
}

export interface CompletionChoice {
  index: number;
  text: string;
  finish_reason: string | null;
  logprobs?: CompletionLogprobs | null;
}

export interface CompletionResponse {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: CompletionChoice[];
  usage?: Usage;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: Array<{ index: number; delta: { role?: ChatRole; content?: string | null }; finish_reason: string | null }>;
  usage?: Usage | null;
}

export interface CompletionChunk {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: Array<{ index: number; text: string; finish_reason: string | null }>;
  usage?: Usage | null;
}

export interface ModelEntry {
  id: string;
  object: "model";
  owned_by?: string;
  /** vLLM: the base model a LoRA adapter applies to (null for a base model). */
  parent?: string | null;
  /** vLLM: the context window, unit {token}. */
  max_model_len?: number;
  /** vLLM: where the weights came from (the adapter path for a LoRA). */
  root?: string;
}

export interface ModelList {
  object: "list";
  data: ModelEntry[];
}

/** vLLM's POST /v1/load_lora_adapter body (needs VLLM_ALLOW_RUNTIME_LORA_UPDATING=True on the server). */
export interface LoadLoraAdapterRequest {
  lora_name: string;
  lora_path: string;
}

/** One output position with its alternatives, the same shape for chat and plain completions. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  top: Array<{ token: string; logprob: number }>;
}
