import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { GeneratorService } from "@ragtune/contracts/generator";
import { TrainerService } from "@ragtune/contracts/trainer";
import {
  type BuiltService,
  type ConfigOf,
  createServiceClient,
  isEntryPoint,
  type Logger,
  type NatsHandle,
  runService,
} from "@ragtune/runtime";
import {
  type AdapterArchiveSource,
  createDirectoryArchiveSource,
  createObjectStoreArchiveSource,
} from "@ragtune/adapter-archive";
import { createAdapterDirectory } from "./backends/adapter-directory.js";
import { createRecordVerifiedArchiveSource, createTrainerRecordLookup } from "./backends/adapter-records.js";
import { createHostedFineTunes } from "./backends/hosted-fine-tunes.js";
import { type AdapterEvents, type GenerationBackend, createLlamaCppBackend } from "@ragtune/llamacpp";
import {
  createArchiveWeightsSource,
  createDirectoryWeightsSource,
  createExtractiveBackend,
} from "./backends/extractive-backend.js";
import { createOpenAiBackend } from "./backends/openai-backend.js";
import { generatorSettings } from "./config.js";
import { createKvAnswerRecords } from "./answer-records.js";
import { createNatsAdapterEvents } from "./events.js";
import { GeneratorServiceImpl } from "./generator-service.js";
import { createOpenAiClient } from "@ragtune/llm";
import { parseReaderWeights } from "@ragtune/reader";

export type GeneratorConfig = ConfigOf<typeof generatorSettings>;

/** Archives served only when they match the trainer's adapter record (TRAINER_URL); without one, a loud warning. */
function verifiedAgainstTrainer(archives: AdapterArchiveSource, config: GeneratorConfig, logger?: Logger) {
  if (!config.trainerUrl) {
    logger?.warn(
      "TRAINER_URL is not set: adapter archives are checked only against their own object metadata, not the trainer's adapter records",
    );
    return archives;
  }
  const authToken = (config as { authToken?: string }).authToken || undefined;
  const trainer = createServiceClient(TrainerService, config.trainerUrl, { authToken });
  return createRecordVerifiedArchiveSource(archives, createTrainerRecordLookup(trainer));
}

/** The backends the configuration asks for: the extractive reader always, the others when configured. */
export async function createBackends(
  config: GeneratorConfig,
  nats: NatsHandle | undefined,
  events: AdapterEvents,
  logger?: Logger,
) {
  const backends: GenerationBackend[] = [];
  const baseWeights = config.readerWeights
    ? parseReaderWeights(JSON.parse(await readFile(config.readerWeights, "utf8")))
    : undefined;
  // The trainer's adapter archives, for the reader's weights and for unpacking PEFT adapters for vLLM.
  const stored = config.readerAdapterDir
    ? createDirectoryArchiveSource(config.readerAdapterDir)
    : nats
      ? createObjectStoreArchiveSource(nats.objm, config.readerAdapterBucket)
      : undefined;
  const archives = stored && verifiedAgainstTrainer(stored, config, logger);
  const adapters = config.readerAdapterDir
    ? createDirectoryWeightsSource(config.readerAdapterDir)
    : archives && createArchiveWeightsSource(archives);
  backends.push(createExtractiveBackend({ baseWeights, adapters, events }));

  if (config.openaiBaseUrl) {
    if (config.openaiAdapterDir && !archives) {
      throw new Error("GENERATOR_OPENAI_ADAPTER_DIR needs NATS or GENERATOR_READER_ADAPTER_DIR to fetch adapters from");
    }
    const client = createOpenAiClient({
      baseUrl: config.openaiBaseUrl,
      apiKey: config.openaiApiKey || undefined,
      timeoutMs: config.openaiTimeoutMs,
      maxRetries: config.openaiMaxRetries,
      maxConcurrency: config.openaiMaxConcurrency,
      onRetry: ({ path, attempt, delayMs, error }) =>
        logger?.warn("retrying LLM request", {
          path,
          attempt,
          delay_ms: Math.round(delayMs),
          status: error.status,
          kind: error.kind,
        }),
    });
    backends.push(
      createOpenAiBackend({
        client,
        api: config.openaiApi as "chat" | "completion",
        defaultContextWindow: config.openaiContextWindow,
        loraPathTemplate: config.openaiLoraPathTemplate || undefined,
        adapterDirectory:
          config.openaiAdapterDir && archives
            ? createAdapterDirectory({ dir: config.openaiAdapterDir, archives })
            : undefined,
        hostedFineTunes: archives && createHostedFineTunes(archives),
        events,
      }),
    );
  }

  if (config.llamacppModel) {
    backends.push(
      createLlamaCppBackend({
        models: [
          {
            name: config.llamacppModelName || basename(config.llamacppModel).replace(/\.gguf$/i, ""),
            source: config.llamacppModel,
          },
        ],
        adapterDir: config.llamacppAdapterDir || undefined,
        modelsDir: config.llamacppModelsDir || undefined,
        contextSize: config.llamacppContextSize || undefined,
        maxContexts: config.llamacppContexts,
        threads: config.llamacppThreads || undefined,
        gpu: config.llamacppGpu ? "auto" : false,
        promptFormat: config.llamacppPromptFormat as "completion" | "chat",
        events,
      }),
    );
  }
  return backends;
}

/** The generator as a runtime service: backends from configuration, events on NATS. */
export async function build(ctx: { config: GeneratorConfig; nats: NatsHandle; logger: Logger }): Promise<BuiltService> {
  const events = createNatsAdapterEvents(ctx.nats, ctx.logger);
  const backends = await createBackends(ctx.config, ctx.nats, events, ctx.logger);
  const names = backends.map((b) => b.name);
  if (!names.includes(ctx.config.defaultBackend)) {
    throw new Error(
      `GENERATOR_DEFAULT_BACKEND=${ctx.config.defaultBackend} is not configured (configured: ${names.join(", ")})`,
    );
  }
  const answerRecords = await createKvAnswerRecords(
    ctx.nats,
    { ttlMs: ctx.config.answerRecordTtlS * 1000, maxBytes: ctx.config.answerRecordMaxBytes },
    ctx.logger,
  );
  const impl = new GeneratorServiceImpl({
    backends,
    defaultBackend: ctx.config.defaultBackend,
    defaultTemplates: { llamacpp: ctx.config.llamacppTemplate },
    answerRecords,
    logger: ctx.logger,
  });
  return {
    services: [{ service: GeneratorService, impl }],
    readiness: backends.filter((b) => b.ping).map((b) => ({ name: `backend ${b.name}`, check: () => b.ping!() })),
    onShutdown: async () => {
      await Promise.all(backends.map((b) => b.close()));
    },
  };
}

if (isEntryPoint(import.meta.url)) {
  await runService({ name: "generator", settings: generatorSettings, build });
}
