import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Objm } from "@nats-io/obj";
import { failedPrecondition, notFound, unavailable } from "@ragtune/runtime";
import {
  contentTokens,
  answerWithReader,
  DEFAULT_READER_WEIGHTS,
  parseReaderWeights,
  READER_MODEL_NAME,
  type ReaderWeights,
} from "@ragtune/reader";
import {
  ADAPTER_ID,
  AdapterArchiveError,
  type AdapterArchiveSource,
  createDirectoryArchiveSource,
  createObjectStoreArchiveSource,
  readIfExists,
  readUstarEntry,
} from "@ragtune/adapter-archive";
import { type AdapterEvents, type GenerationBackend, noAdapterEvents, streamWhole } from "@ragtune/llamacpp";

/** Where fine-tuned reader weights come from, by adapter id (the trainer's CPU executor publishes them). */
export interface ReaderWeightsSource {
  /** The weights file's JSON text, or undefined when there is no such adapter. */
  fetch(adapterId: string): Promise<string | undefined>;
  list(): Promise<string[]>;
}

/** The weights file inside an adapter archive, as the trainer's CPU executor writes it. */
export const READER_WEIGHTS_FILE = "reader-weights.json";

/** Weights from an adapter archive (ustar holding reader-weights.json). */
function weightsText(archive: Uint8Array): string {
  const entry = readUstarEntry(archive, READER_WEIGHTS_FILE);
  if (!entry) throw new AdapterArchiveError(`adapter archive has no ${READER_WEIGHTS_FILE}`);
  return Buffer.from(entry).toString("utf8");
}

/** Reader weights out of the trainer's adapter archives. */
export function createArchiveWeightsSource(archives: AdapterArchiveSource): ReaderWeightsSource {
  return {
    async fetch(adapterId) {
      const archive = await archives.fetch(adapterId);
      return archive ? weightsText(archive) : undefined;
    },
    list: () => archives.list(),
  };
}

/** `<dir>/<adapter>.tar` (the trainer's directory storage) or `<dir>/<adapter>.json`. */
export function createDirectoryWeightsSource(directory: string): ReaderWeightsSource {
  const archives = createArchiveWeightsSource(createDirectoryArchiveSource(directory));
  return {
    async fetch(adapterId) {
      const fromArchive = await archives.fetch(adapterId);
      if (fromArchive !== undefined || !ADAPTER_ID.test(adapterId)) return fromArchive;
      return (await readIfExists(join(directory, `${adapterId}.json`)))?.toString("utf8");
    },
    async list() {
      const names = await readdir(directory).catch(() => [] as string[]);
      return [...new Set(names.filter((n) => /\.(tar|json)$/.test(n)).map((n) => n.replace(/\.(tar|json)$/, "")))];
    },
  };
}

/** The trainer's default storage: object `<adapter>.tar` in a NATS Object Store bucket. */
export function createObjectStoreWeightsSource(objm: Objm, bucket: string): ReaderWeightsSource {
  return createArchiveWeightsSource(createObjectStoreArchiveSource(objm, bucket));
}

export interface ExtractiveBackendOptions {
  name?: string;
  /** The base weights; default the reader's hand-set defaults. */
  baseWeights?: ReaderWeights;
  /** Fine-tuned weights by adapter id; none: only the base reader. */
  adapters?: ReaderWeightsSource;
  events?: AdapterEvents;
  /** Parsed adapter weights kept in memory. Default 64. */
  cacheSize?: number;
}

/**
 * The extractive reader as a backend: no model, no window. Its answer is a sentence picked from the
 * contexts; its model name says so ("extractive-reader"), so no output passes for an LLM's.
 */
export function createExtractiveBackend(options: ExtractiveBackendOptions = {}): GenerationBackend {
  const name = options.name ?? "extractive";
  const events = options.events ?? noAdapterEvents;
  const cacheSize = options.cacheSize ?? 64;
  const base = options.baseWeights ?? DEFAULT_READER_WEIGHTS;
  const cache = new Map<string, Promise<ReaderWeights>>();

  async function loadAdapter(adapter: string): Promise<ReaderWeights> {
    const model = { backend: name, baseModel: READER_MODEL_NAME, adapter };
    const started = performance.now();
    const unreadable = (reason: string): never => {
      events.adapterLoadFailed(model, reason);
      // The adapter exists but cannot be served: the OpenAI backend's answer for the same archives.
      throw failedPrecondition(`adapter ${adapter}: unreadable weights: ${reason}`);
    };
    let text: string | undefined;
    try {
      text = await options.adapters?.fetch(adapter);
    } catch (error) {
      if (error instanceof AdapterArchiveError) unreadable(error.message);
      throw unavailable(`reader weights store: ${(error as Error).message}`, error);
    }
    if (text === undefined) throw notFound("adapter", adapter);
    try {
      const weights = parseReaderWeights(JSON.parse(text));
      events.adapterLoaded(model, (performance.now() - started) / 1000);
      return weights;
    } catch (error) {
      return unreadable((error as Error).message);
    }
  }

  function weightsFor(adapter: string): Promise<ReaderWeights> {
    if (!adapter) return Promise.resolve(base);
    let loading = cache.get(adapter);
    if (!loading) {
      loading = loadAdapter(adapter);
      // A failed load is not cached: the trainer may publish the adapter a moment later.
      loading.catch(() => cache.delete(adapter));
      cache.set(adapter, loading);
      if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
    }
    return loading;
  }

  async function generate(input: Parameters<GenerationBackend["generate"]>[0]) {
    const weights = await weightsFor(input.model.adapter);
    const result = answerWithReader(weights, input.question, input.contexts);
    return {
      text: result.answer,
      finishReason: result.finishReason,
      // "Tokens" of a reader are the content words it read and wrote, so usage stays comparable in kind.
      inputTokens:
        contentTokens(input.contexts.map((c) => c.text).join(" ")).length + contentTokens(input.question).length,
      outputTokens: contentTokens(result.answer).length,
    };
  }

  return {
    name,
    kind: "extractive",
    async resolve(baseModel, adapter) {
      if (baseModel !== "" && baseModel !== READER_MODEL_NAME)
        throw notFound("model", `${baseModel} on backend ${name}`);
      await weightsFor(adapter);
      return { backend: name, baseModel: READER_MODEL_NAME, adapter, contextWindow: undefined };
    },
    async countTokens(_model, prompt) {
      return contentTokens(prompt.user).length;
    },
    generate,
    generateStream: (input) => streamWhole(generate(input)),
    async listModels() {
      const adapters = (await options.adapters?.list().catch(() => [])) ?? [];
      return [{ baseModel: READER_MODEL_NAME, adapters, contextWindow: undefined }];
    },
    async close() {
      cache.clear();
    },
  };
}
