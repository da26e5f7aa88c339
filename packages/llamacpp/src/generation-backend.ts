import type { PromptContext, RenderedRagPrompt } from "@ragtune/prompt";

/** What a generation backend is: the kinds ragtune ships; a team can add its own behind the same interface. */
export type BackendKind = "openai" | "llamacpp" | "extractive" | (string & {});

/** A model a backend can answer with right now (adapter loaded, files present). */
export interface ResolvedModel {
  backend: string;
  baseModel: string;
  /** Empty: the base model alone. */
  adapter: string;
  /** Prompt plus output must fit, unit {token}; undefined when the backend has no limit (extractive reader). */
  contextWindow: number | undefined;
}

export interface SamplingSettings {
  temperature: number;
  /** 0: backend default. */
  topP: number;
  maxTokens: number;
  /** 0: none. */
  seed: number;
  stop: string[];
}

export interface GenerationInput {
  model: ResolvedModel;
  question: string;
  /** Contexts after the truncation policy, best first. */
  contexts: PromptContext[];
  prompt: RenderedRagPrompt;
  sampling: SamplingSettings;
  /** JSON schema the answer must follow (grammar-constrained output); undefined: free text. */
  jsonSchema?: object;
  signal?: AbortSignal;
}

export interface GenerationOutput {
  text: string;
  /** "stop", "length", or a backend's own reason. */
  finishReason: string;
  inputTokens: number;
  outputTokens: number;
}

export type GenerationEvent = { delta: string } | { done: GenerationOutput };

export interface ServedModelInfo {
  baseModel: string;
  adapters: string[];
  contextWindow: number | undefined;
}

export interface GenerationBackend {
  /** Name as configured (ModelRef.backend), e.g. "openai", "vllm-a100", "llamacpp", "extractive". */
  readonly name: string;
  readonly kind: BackendKind;
  /** Makes the model answerable (loading an adapter if the backend can); ConnectError NOT_FOUND when it does not exist. */
  resolve(baseModel: string, adapter: string, signal?: AbortSignal): Promise<ResolvedModel>;
  /** Prompt tokens as the model counts them, or a safe over-estimate where the backend has no tokenizer. */
  countTokens(model: ResolvedModel, prompt: RenderedRagPrompt): Promise<number>;
  generate(input: GenerationInput): Promise<GenerationOutput>;
  /** Deltas as produced, then exactly one `done`. */
  generateStream(input: GenerationInput): AsyncGenerator<GenerationEvent>;
  listModels(signal?: AbortSignal): Promise<ServedModelInfo[]>;
  /** Throws while the backend cannot serve (readiness check). */
  ping?(): Promise<void>;
  close(): Promise<void>;
}

/** Publishes what happened to adapters (NATS events in production, a list in tests). */
export interface AdapterEvents {
  adapterLoaded(model: { backend: string; baseModel: string; adapter: string }, durationSeconds: number): void;
  adapterLoadFailed(model: { backend: string; baseModel: string; adapter: string }, error: string): void;
}

export const noAdapterEvents: AdapterEvents = { adapterLoaded() {}, adapterLoadFailed() {} };

/** A backend without real streaming streams its whole answer as one delta. */
export async function* streamWhole(output: Promise<GenerationOutput>): AsyncGenerator<GenerationEvent> {
  const done = await output;
  if (done.text) yield { delta: done.text };
  yield { done };
}
