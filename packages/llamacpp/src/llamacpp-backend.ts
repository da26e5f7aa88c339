import { access, readdir } from "node:fs/promises";
import { join } from "node:path";
import { Code, ConnectError, failedPrecondition, notFound, unavailable } from "@ragtune/runtime";
import {
  getLlama,
  type Llama,
  LlamaChatSession,
  LlamaCompletion,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaGrammar,
  LlamaLogLevel,
  type LlamaModel,
} from "node-llama-cpp";
import type { RenderedRagPrompt } from "@ragtune/prompt";
import { createAsyncQueue } from "./async-queue.js";
import {
  type AdapterEvents,
  type GenerationBackend,
  type GenerationEvent,
  type GenerationInput,
  type GenerationOutput,
  noAdapterEvents,
  type ResolvedModel,
} from "./generation-backend.js";
import { createKeyedPool } from "./keyed-pool.js";
import { downloadModelFile } from "./model-download.js";

export interface LlamaCppModelSpec {
  /** Name requests use (ModelRef.base_model); the source also works as a name. */
  name: string;
  /** A GGUF file path, or a URI node-llama-cpp downloads from ("hf:<user>/<repo>:<quant>", "https://…/x.gguf"). */
  source: string;
}

export interface LlamaCppBackendOptions {
  /** Default "llamacpp". */
  name?: string;
  models: LlamaCppModelSpec[];
  /** Adapter files `<adapterDir>/<adapter>.gguf`. */
  adapterDir?: string;
  /** Adapter id → GGUF LoRA file, checked before adapterDir. */
  adapters?: Record<string, string>;
  /** Where models given by URI are downloaded to. Default node-llama-cpp's (~/.node-llama-cpp/models). */
  modelsDir?: string;
  /** A download that makes no progress for this long fails UNAVAILABLE, ms. Default 60000. */
  downloadStallMs?: number;
  /** Tokens per context. Default the model's training context, at most 4096. */
  contextSize?: number;
  /** Contexts alive at once over all models and adapters (each holds its KV cache). Default 2. */
  maxContexts?: number;
  /** CPU threads per context. Default the cores llama.cpp counts for math (more threads than cores spin and crawl). */
  threads?: number;
  /** "auto" uses a GPU when there is one. Default "auto". */
  gpu?: "auto" | false;
  /**
   * "completion": the rendered prompt as plain text (no chat template; right for base and tiny models).
   * "chat": system + user turns through the chat template the GGUF file declares. Default "completion".
   */
  promptFormat?: "completion" | "chat";
  /** A llama.cpp instance to share (tests, the judge); created on first use otherwise. */
  llama?: Llama;
  events?: AdapterEvents;
}

interface PooledContext {
  context: LlamaContext;
  sequence: LlamaContextSequence;
}

interface LoadedModel {
  model: LlamaModel;
  path: string;
  contextSize: number;
}

const ADAPTER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const REMOTE_SOURCE = /^(hf:|huggingface:|https?:\/\/)/i;

function stopReasonToFinish(reason: string): string {
  if (reason === "maxTokens") return "length";
  if (reason === "abort") return "cancelled";
  return "stop";
}

/** llama.cpp in-process: GGUF models and GGUF LoRA adapters, a bounded pool of contexts, grammar-constrained output. */
export function createLlamaCppBackend(options: LlamaCppBackendOptions): GenerationBackend & {
  /** Disposes a model's contexts and weights (and its adapters); it loads again on next use. */
  unload(baseModel: string): Promise<void>;
  poolStats(): { total: number; busy: number; idle: number; waiting: number };
} {
  const name = options.name ?? "llamacpp";
  const events = options.events ?? noAdapterEvents;
  const format = options.promptFormat ?? "completion";
  if (options.models.length === 0) throw new Error("llama.cpp backend needs at least one model");
  let llamaPromise: Promise<Llama> | undefined = options.llama ? Promise.resolve(options.llama) : undefined;
  const loaded = new Map<string, Promise<LoadedModel>>();
  const verifiedAdapters = new Set<string>();
  const grammars = new Map<string, Promise<LlamaGrammar>>();
  const keysByModel = new Map<string, Set<string>>();

  const llama = () => {
    llamaPromise ??= getLlama({ gpu: options.gpu ?? "auto", logLevel: LlamaLogLevel.warn });
    return llamaPromise;
  };

  function specFor(baseModel: string): LlamaCppModelSpec {
    const spec =
      baseModel === "" ? options.models[0] : options.models.find((m) => m.name === baseModel || m.source === baseModel);
    if (!spec) throw notFound("model", `${baseModel} on backend ${name}`);
    return spec;
  }

  async function modelPath(spec: LlamaCppModelSpec): Promise<string> {
    if (REMOTE_SOURCE.test(spec.source)) {
      // The download path users rely on (node-llama-cpp's resolver, in a child process); tests here have no network.
      try {
        return await downloadModelFile(spec.source, {
          directory: options.modelsDir,
          stallMs: options.downloadStallMs ?? 60_000,
        });
      } catch (error) {
        throw unavailable(`model ${spec.name}: cannot download ${spec.source}: ${(error as Error).message}`, error);
      }
    }
    try {
      await access(spec.source);
    } catch {
      throw notFound("model file", spec.source);
    }
    return spec.source;
  }

  function loadModel(spec: LlamaCppModelSpec): Promise<LoadedModel> {
    let loading = loaded.get(spec.name);
    if (!loading) {
      loading = (async () => {
        const path = await modelPath(spec);
        let model: LlamaModel;
        try {
          model = await (await llama()).loadModel({ modelPath: path });
        } catch (error) {
          throw failedPrecondition(`model ${spec.name}: llama.cpp cannot load ${path}: ${(error as Error).message}`);
        }
        const contextSize = options.contextSize ?? Math.min(model.trainContextSize, 4096);
        return { model, path, contextSize };
      })();
      loading.catch(() => loaded.delete(spec.name));
      loaded.set(spec.name, loading);
    }
    return loading;
  }

  async function adapterPath(adapter: string): Promise<string> {
    const path =
      options.adapters?.[adapter] ??
      (options.adapterDir && ADAPTER_ID.test(adapter) ? join(options.adapterDir, `${adapter}.gguf`) : undefined);
    if (!path) throw notFound("adapter", `${adapter} on backend ${name}`);
    try {
      await access(path);
    } catch {
      throw notFound("adapter", `${adapter} (no file ${path})`);
    }
    return path;
  }

  const poolKey = (baseModel: string, adapter: string) => `${baseModel}\u0000${adapter}`;

  const pool = createKeyedPool<PooledContext>({
    max: options.maxContexts ?? 2,
    async create(key) {
      const [baseModel, adapter] = key.split("\u0000");
      const { model, contextSize } = await loadModel(specFor(baseModel));
      const lora = adapter ? { adapters: [{ filePath: await adapterPath(adapter) }] } : undefined;
      const threads = options.threads ?? (await llama()).cpuMathCores;
      const context = await model.createContext({ contextSize, sequences: 1, threads, lora });
      return { context, sequence: context.getSequence() };
    },
    async destroy({ context }) {
      await context.dispose();
    },
  });

  /** Pool keys per model, so unloading a model can evict its contexts. */
  function trackKey(baseModel: string, adapter: string): string {
    const key = poolKey(baseModel, adapter);
    const keys = keysByModel.get(baseModel) ?? new Set<string>();
    keysByModel.set(baseModel, keys);
    keys.add(key);
    return key;
  }

  async function resolve(baseModel: string, adapter: string, signal?: AbortSignal): Promise<ResolvedModel> {
    const spec = specFor(baseModel);
    const { contextSize } = await loadModel(spec);
    const resolved = { backend: name, baseModel: spec.name, adapter, contextWindow: contextSize };
    if (!adapter) return resolved;
    await adapterPath(adapter);
    const key = trackKey(spec.name, adapter);
    if (!verifiedAdapters.has(key)) {
      // A context built with the LoRA proves llama.cpp accepted it (it rejects a mismatched or broken file).
      const ref = { backend: name, baseModel: spec.name, adapter };
      const started = performance.now();
      try {
        const { release } = await pool.acquire(key, signal);
        release();
      } catch (error) {
        if (error instanceof ConnectError && error.code !== Code.Unknown) throw error;
        const reason = `llama.cpp could not apply adapter ${adapter}: ${(error as Error).message}`;
        events.adapterLoadFailed(ref, reason);
        throw notFound("adapter", `${adapter} (${reason})`);
      }
      verifiedAdapters.add(key);
      events.adapterLoaded(ref, (performance.now() - started) / 1000);
    }
    return resolved;
  }

  async function countTokens(model: ResolvedModel, prompt: RenderedRagPrompt): Promise<number> {
    const { model: llamaModel } = await loadModel(specFor(model.baseModel));
    const bos = llamaModel.tokens.shouldPrependBosToken ? 1 : 0;
    if (format === "completion") return llamaModel.tokenize(prompt.completionPrompt).length + bos;
    // The chat template adds role markers; 32 tokens covers the templates llama.cpp ships.
    return llamaModel.tokenize(`${prompt.system}\n${prompt.user}`).length + 32;
  }

  function grammarFor(schema: object): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = grammars.get(key);
    if (!grammar) {
      grammar = llama().then((l) => l.createGrammarForJsonSchema(schema as never));
      grammar.catch(() => grammars.delete(key));
      grammars.set(key, grammar);
    }
    return grammar;
  }

  /** Runs one generation on a pooled context; `onText` sees each piece of text as it is produced. */
  async function run(input: GenerationInput, onText?: (text: string) => void): Promise<GenerationOutput> {
    const key = trackKey(input.model.baseModel, input.model.adapter);
    const grammar = input.jsonSchema ? await grammarFor(input.jsonSchema) : undefined;
    const { resource, release } = await pool.acquire(key, input.signal);
    try {
      const { sequence } = resource;
      await sequence.clearHistory();
      const before = sequence.tokenMeter.getState();
      const { sampling } = input;
      const generation = {
        maxTokens: sampling.maxTokens,
        temperature: sampling.temperature,
        topP: sampling.topP > 0 ? sampling.topP : undefined,
        seed: sampling.seed > 0 ? Number(sampling.seed % 2 ** 32) : undefined,
        customStopTriggers: sampling.stop.length > 0 ? sampling.stop : undefined,
        grammar,
        signal: input.signal,
        stopOnAbortSignal: false,
        onTextChunk: onText,
      };
      let text: string;
      let stopReason: string;
      if (format === "completion") {
        const completion = new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false });
        try {
          const result = await completion.generateCompletionWithMeta(input.prompt.completionPrompt, generation);
          text = result.response;
          stopReason = result.metadata.stopReason;
        } finally {
          completion.dispose();
        }
      } else {
        const session = new LlamaChatSession({
          contextSequence: sequence,
          systemPrompt: input.prompt.system || undefined,
          autoDisposeSequence: false,
        });
        try {
          const result = await session.promptWithMeta(input.prompt.user, generation);
          text = result.responseText;
          stopReason = result.stopReason;
        } finally {
          session.dispose({ disposeSequence: false });
        }
      }
      const used = sequence.tokenMeter.diff(before);
      return {
        text,
        finishReason: stopReasonToFinish(stopReason),
        // The meter leaves out the prompt token evaluated with the first output; the tokenizer's count is exact.
        inputTokens: format === "completion" ? await countTokens(input.model, input.prompt) : used.usedInputTokens,
        outputTokens: used.usedOutputTokens,
      };
    } catch (error) {
      if (input.signal?.aborted) throw new ConnectError(`backend ${name}: request cancelled`, Code.Canceled);
      if (error instanceof ConnectError) throw error;
      throw new ConnectError(`backend ${name}: generation failed: ${(error as Error).message}`, Code.Internal);
    } finally {
      release();
    }
  }

  async function* generateStream(input: GenerationInput): AsyncGenerator<GenerationEvent> {
    const queue = createAsyncQueue<string>();
    const done = run(input, (text) => queue.push(text)).finally(() => queue.end());
    done.catch(() => {});
    for await (const delta of queue) yield { delta };
    yield { done: await done };
  }

  return {
    name,
    kind: "llamacpp",
    resolve,
    countTokens,
    generate: (input) => run(input),
    generateStream,
    async listModels() {
      return Promise.all(
        options.models.map(async (spec) => {
          const adapters = Object.keys(options.adapters ?? {});
          if (options.adapterDir) {
            const files = await readdir(options.adapterDir).catch(() => [] as string[]);
            adapters.push(...files.filter((f) => f.endsWith(".gguf")).map((f) => f.slice(0, -5)));
          }
          const model = await loaded.get(spec.name)?.catch(() => undefined);
          return {
            baseModel: spec.name,
            adapters: [...new Set(adapters)],
            contextWindow: model?.contextSize ?? options.contextSize,
          };
        }),
      );
    },
    async unload(baseModel) {
      const spec = specFor(baseModel);
      for (const key of keysByModel.get(spec.name) ?? []) await pool.evict(key);
      const stats = pool.stats();
      if (stats.busy > 0) throw failedPrecondition(`model ${spec.name} is busy; unload it when idle`);
      const model = await loaded.get(spec.name)?.catch(() => undefined);
      loaded.delete(spec.name);
      for (const key of [...verifiedAdapters]) if (key.startsWith(`${spec.name}\u0000`)) verifiedAdapters.delete(key);
      await model?.model.dispose();
    },
    poolStats: () => pool.stats(),
    async close() {
      await pool.close();
      for (const loading of loaded.values()) {
        const model = await loading.catch(() => undefined);
        await model?.model.dispose();
      }
      loaded.clear();
      grammars.clear();
      if (!options.llama && llamaPromise) await (await llamaPromise).dispose();
    },
  };
}
