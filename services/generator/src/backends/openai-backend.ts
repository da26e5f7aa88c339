import { join } from "node:path";
import { notFound } from "@ragtune/runtime";
import { LlmError, type OpenAiClient, type ModelEntry, type SamplingFields } from "@ragtune/llm";
import { chatMessagesForModel, type RenderedRagPrompt } from "@ragtune/prompt";
import type { AdapterDirectory } from "./adapter-directory.js";
import type { HostedFineTunes } from "./hosted-fine-tunes.js";
import {
  type AdapterEvents,
  type GenerationBackend,
  type GenerationEvent,
  type GenerationInput,
  type GenerationOutput,
  noAdapterEvents,
  type ResolvedModel,
} from "@ragtune/llamacpp";
import { connectErrorFromLlm } from "./llm-errors.js";

export interface OpenAiBackendOptions {
  /** Backend name as requests name it. Default "openai". */
  name?: string;
  client: OpenAiClient;
  /** "chat": /chat/completions, the server applies the model's chat template; "completion": /completions with plain text. Default "chat". */
  api?: "chat" | "completion";
  /** Window to assume when the server does not report max_model_len, unit {token}. Default 8192. */
  defaultContextWindow?: number;
  /**
   * vLLM run-time LoRA loading: where the server finds an adapter's files, "{adapter}" replaced by its id,
   * e.g. "/models/adapters/{adapter}". Unset: adapters must already be served under their name.
   */
  loraPathTemplate?: string;
  /**
   * A folder shared with the server (vLLM) into which an adapter the server does not serve yet is unpacked from the
   * trainer's archive before it is loaded. With no loraPathTemplate, the server reads it at the same path:
   * `<dir>/{adapter}`.
   */
  adapterDirectory?: AdapterDirectory;
  /**
   * The trainer's adapter records, for adapters that are hosted fine-tunes: such an adapter is served under the
   * model name the provider gave it. Unset: every adapter is a LoRA adapter.
   */
  hostedFineTunes?: HostedFineTunes;
  /** Prompt whose greedy output must differ between base and adapter once an adapter is loaded. */
  canaryPrompt?: string;
  /** How long the /models listing is reused, ms. Default 5000. */
  modelsCacheMs?: number;
  events?: AdapterEvents;
}

const DEFAULT_CANARY =
  "Complete the sentence in your own words. The most important thing to know about this topic is that";

/**
 * A backend for any OpenAI-compatible server (vLLM, Ollama, TGI, llama.cpp server, OpenAI). An adapter
 * is selected by model name; on vLLM a missing adapter is loaded at run time and verified by a canary.
 */
export function createOpenAiBackend(options: OpenAiBackendOptions): GenerationBackend {
  const name = options.name ?? "openai";
  const client = options.client;
  const api = options.api ?? "chat";
  const events = options.events ?? noAdapterEvents;
  const defaultWindow = options.defaultContextWindow ?? 8192;
  const cacheMs = options.modelsCacheMs ?? 5000;
  const adapterDirectory = options.adapterDirectory;
  const loraPathTemplate =
    options.loraPathTemplate ?? (adapterDirectory ? join(adapterDirectory.dir, "{adapter}") : undefined);
  let listing: { at: number; models: ModelEntry[] } | undefined;
  let refreshing: Promise<ModelEntry[]> | undefined;
  /** Adapters this process loaded and verified, by name; concurrent requests share one load. */
  const loads = new Map<string, Promise<void>>();
  /** Adapter id → the hosted fine-tuned model's name it is served under. */
  const hostedNames = new Map<string, string>();

  function fetchModels(signal?: AbortSignal): Promise<ModelEntry[]> {
    refreshing ??= client
      .listModels({ signal })
      .then((list) => {
        listing = { at: performance.now(), models: list.data };
        return list.data;
      })
      .catch((error) => {
        throw connectErrorFromLlm(error, name, "(listing models)");
      })
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  }

  /**
   * The server's model listing. A stale listing is still served while a refresh runs in the background:
   * on a slow server, waiting for /models would stall every request behind it.
   */
  function servedModels(signal?: AbortSignal, fresh = false): Promise<ModelEntry[]> {
    if (fresh || !listing) return fetchModels(signal);
    if (performance.now() - listing.at >= cacheMs && !refreshing) fetchModels().catch(() => {});
    return Promise.resolve(listing.models);
  }

  const isAdapter = (entry: ModelEntry) => Boolean(entry.parent);

  async function canaryOutput(model: string, signal?: AbortSignal): Promise<string> {
    const prompt = options.canaryPrompt ?? DEFAULT_CANARY;
    const sampling = { model, max_tokens: 16, temperature: 0, seed: 1 };
    if (api === "chat") {
      const response = await client.chatCompletion(
        { ...sampling, messages: [{ role: "user", content: prompt }] },
        { signal },
      );
      return response.choices[0]?.message.content ?? "";
    }
    const response = await client.completion({ ...sampling, prompt }, { signal });
    return response.choices[0]?.text ?? "";
  }

  async function loadAndVerify(baseModel: string, adapter: string, signal?: AbortSignal): Promise<void> {
    const ref = { backend: name, baseModel, adapter };
    const path = loraPathTemplate!.replaceAll("{adapter}", adapter);
    const started = performance.now();
    try {
      // Unpacked once per folder: concurrent requests share this load, other replicas find the folder whole.
      await adapterDirectory?.materialize(adapter);
      try {
        await client.loadLoraAdapter({ lora_name: adapter, lora_path: path }, { signal });
      } catch (error) {
        // Another replica may have loaded it a moment ago: vLLM answers 400 "already been loaded".
        if (!(error instanceof LlmError && error.status === 400 && /already/i.test(error.message))) throw error;
      }
      const [base, tuned] = await Promise.all([canaryOutput(baseModel, signal), canaryOutput(adapter, signal)]);
      if (base === tuned) {
        await client.unloadLoraAdapter({ lora_name: adapter }, { signal }).catch(() => {});
        throw notFound(
          "adapter",
          `${adapter} (the server accepted ${path}, but the canary output equals the base model's: no adapter weights are applied)`,
        );
      }
    } catch (error) {
      const failure =
        error instanceof LlmError && error.kind === "http" && (error.status === 400 || error.status === 404)
          ? notFound("adapter", `${adapter} (the server could not load ${path}: ${error.message})`)
          : connectErrorFromLlm(error, name, adapter);
      events.adapterLoadFailed(ref, failure.message);
      throw failure;
    }
    listing = undefined;
    events.adapterLoaded(ref, (performance.now() - started) / 1000);
  }

  async function resolve(baseModel: string, adapter: string, signal?: AbortSignal): Promise<ResolvedModel> {
    let models = await servedModels(signal);
    const known = (id: string) => id === "" || hostedNames.has(id) || models.some((m) => m.id === id);
    // A miss on a cached listing may be a model or adapter served since: ask again before NOT_FOUND.
    if (!known(baseModel) || !known(adapter)) models = await servedModels(signal, true);
    const bases = models.filter((m) => !isAdapter(m));
    const base = baseModel === "" ? bases[0] : bases.find((m) => m.id === baseModel);
    if (!base) throw notFound("model", `${baseModel || "(default)"} on backend ${name}`);
    const resolved = {
      backend: name,
      baseModel: base.id,
      adapter,
      contextWindow: base.max_model_len ?? defaultWindow,
    };
    if (!adapter) return resolved;
    const served = models.find((m) => m.id === adapter);
    if (served) {
      if (served.parent && served.parent !== base.id) {
        throw notFound("adapter", `${adapter} for base model ${base.id} (it applies to ${served.parent})`);
      }
      return resolved;
    }
    // An archive that cannot be read is the LoRA path's to report (with its adapter events), when there is one.
    const hosted = await options.hostedFineTunes?.lookup(adapter).catch((error) => {
      if (loraPathTemplate) return undefined;
      throw error;
    });
    if (hosted) {
      if (hosted.baseModel && hosted.baseModel !== base.id) {
        throw notFound("adapter", `${adapter} for base model ${base.id} (it is a fine-tune of ${hosted.baseModel})`);
      }
      if (!models.some((m) => m.id === hosted.fineTunedModel)) models = await servedModels(signal, true);
      if (!models.some((m) => m.id === hosted.fineTunedModel)) {
        throw notFound(
          "adapter",
          `${adapter} (hosted fine-tune ${hosted.fineTunedModel} is not among the models backend ${name} serves)`,
        );
      }
      hostedNames.set(adapter, hosted.fineTunedModel);
      return resolved;
    }
    if (!loraPathTemplate) throw notFound("adapter", `${adapter} on backend ${name}`);
    let load = loads.get(adapter);
    if (!load) {
      load = loadAndVerify(base.id, adapter, signal);
      loads.set(adapter, load);
      load.catch(() => loads.delete(adapter));
    }
    await load;
    return resolved;
  }

  /** No tokenizer over HTTP: ~3 UTF-8 bytes per token over-counts English for BPE/SPM vocabularies, which truncation wants. */
  async function countTokens(model: ResolvedModel, prompt: RenderedRagPrompt): Promise<number> {
    // The messages as sent (system folded for some families), which the PEFT trainer also fine-tunes on.
    const messages = chatMessagesForModel(model.baseModel, prompt);
    const text = api === "chat" ? messages.map((m) => m.content).join("\n") : prompt.completionPrompt;
    const perMessageOverhead = api === "chat" ? 8 * messages.length : 0;
    return Math.ceil(Buffer.byteLength(text, "utf8") / 3) + perMessageOverhead;
  }

  function samplingFields(input: GenerationInput): SamplingFields {
    const { sampling, model } = input;
    const fields: SamplingFields = {
      model: hostedNames.get(model.adapter) ?? (model.adapter || model.baseModel),
      max_tokens: sampling.maxTokens,
      temperature: sampling.temperature,
    };
    if (sampling.topP > 0) fields.top_p = sampling.topP;
    if (sampling.seed > 0) fields.seed = sampling.seed;
    if (sampling.stop.length > 0) fields.stop = sampling.stop;
    if (input.jsonSchema)
      fields.response_format = { type: "json_schema", json_schema: { name: "answer", schema: input.jsonSchema } };
    return fields;
  }

  async function generate(input: GenerationInput): Promise<GenerationOutput> {
    const fields = samplingFields(input);
    try {
      if (api === "chat") {
        const response = await client.chatCompletion(
          { ...fields, messages: chatMessagesForModel(input.model.baseModel, input.prompt) },
          { signal: input.signal },
        );
        const choice = response.choices[0];
        return {
          text: choice?.message.content ?? "",
          finishReason: choice?.finish_reason ?? "stop",
          inputTokens: response.usage?.prompt_tokens ?? (await countTokens(input.model, input.prompt)),
          outputTokens: response.usage?.completion_tokens ?? 0,
        };
      }
      const response = await client.completion(
        { ...fields, prompt: input.prompt.completionPrompt },
        { signal: input.signal },
      );
      const choice = response.choices[0];
      return {
        text: choice?.text ?? "",
        finishReason: choice?.finish_reason ?? "stop",
        inputTokens: response.usage?.prompt_tokens ?? (await countTokens(input.model, input.prompt)),
        outputTokens: response.usage?.completion_tokens ?? 0,
      };
    } catch (error) {
      throw connectErrorFromLlm(error, name, fields.model);
    }
  }

  async function* generateStream(input: GenerationInput): AsyncGenerator<GenerationEvent> {
    const fields = samplingFields(input);
    let text = "";
    let finishReason = "stop";
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    let deltas = 0;
    try {
      const chunks =
        api === "chat"
          ? client.streamChatCompletion(
              { ...fields, messages: chatMessagesForModel(input.model.baseModel, input.prompt) },
              { signal: input.signal },
            )
          : client.streamCompletion({ ...fields, prompt: input.prompt.completionPrompt }, { signal: input.signal });
      for await (const chunk of chunks) {
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) continue;
        const delta = "delta" in choice ? (choice.delta.content ?? "") : choice.text;
        if (choice.finish_reason) finishReason = choice.finish_reason;
        if (delta) {
          text += delta;
          deltas++;
          yield { delta };
        }
      }
    } catch (error) {
      throw connectErrorFromLlm(error, name, fields.model);
    }
    yield {
      done: {
        text,
        finishReason,
        inputTokens: usage?.prompt_tokens ?? (await countTokens(input.model, input.prompt)),
        // Without a usage chunk, each delta is close to one token on the servers that stream per token.
        outputTokens: usage?.completion_tokens ?? deltas,
      },
    };
  }

  return {
    name,
    kind: "openai",
    resolve,
    countTokens,
    generate,
    generateStream,
    async listModels(signal) {
      const models = await servedModels(signal, true);
      return models
        .filter((m) => !isAdapter(m))
        .map((base) => ({
          baseModel: base.id,
          adapters: models.filter((m) => m.parent === base.id).map((m) => m.id),
          contextWindow: base.max_model_len,
        }));
    },
    async ping() {
      await client.listModels({ timeoutMs: 2000, maxRetries: 0 }).catch((error) => {
        throw connectErrorFromLlm(error, name, "(listing models)");
      });
    },
    async close() {
      loads.clear();
    },
  };
}
