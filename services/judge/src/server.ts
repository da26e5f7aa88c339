/**
 * Wires the judge from its configuration: backends, the store of frozen steps and cached scores, the engine
 * and JudgeService. build() is what runService() (src/main.ts) and the server-tier tests call.
 */
import { JudgeService } from "@ragtune/contracts/judge";
import { createLlamaCppBackend } from "@ragtune/llamacpp";
import { createOpenAiClient } from "@ragtune/llm";
import { createGenerationJudgeBackend } from "./backends/generation-backend.js";
import { type BuiltService, type ConfigOf, type Logger, type NatsHandle, openKv } from "@ragtune/runtime";
import { createOpenAiJudgeBackend } from "./backends/openai-backend.js";
import { createTracedBackend } from "./backends/traced-backend.js";
import type { judgeSettings } from "./config.js";
import { createEvaluationSteps, type FrozenSteps } from "./evaluation-steps.js";
import type { JudgeBackend } from "./judge-backend.js";
import { createJudgeEngine } from "./judge-engine.js";
import { createNatsJudgeEvents, JudgeServiceImpl } from "./judge-service.js";
import type { CachedRepeats } from "./judge-engine.js";
import { createMemoryStore } from "./stores/blob-store.js";
import { createFileStore } from "./stores/file-store.js";
import { createNatsKvStore } from "./stores/nats-kv-store.js";

export type JudgeConfigValues = ConfigOf<typeof judgeSettings>;

export interface JudgeBuildContext {
  config: JudgeConfigValues;
  nats: NatsHandle;
  logger: Logger;
  /** Backends to use instead of those the configuration describes (tests, embedding). */
  backends?: JudgeBackend[];
}

async function createStores(ctx: JudgeBuildContext) {
  const { config } = ctx;
  if (config.cache === "nats") {
    // One bucket, two key spaces; history 1 since a key's value never changes (content-addressed).
    // Many more entries than other buckets (a score per item, model and repeat): a limit of its own.
    const kv = await openKv(ctx.nats.kvm, config.kvBucket, { history: 1, maxBytes: 1024 * 1024 * 1024 });
    return {
      steps: createNatsKvStore<FrozenSteps>(kv, "steps."),
      scores: createNatsKvStore<CachedRepeats>(kv, "score."),
    };
  }
  if (config.cache === "file") {
    return {
      steps: createFileStore<FrozenSteps>(`${config.cacheDir}/steps`),
      scores: createFileStore<CachedRepeats>(`${config.cacheDir}/scores`),
    };
  }
  return { steps: createMemoryStore<FrozenSteps>(), scores: createMemoryStore<CachedRepeats>() };
}

interface ConfiguredBackends {
  backends: JudgeBackend[];
  close(): Promise<void>;
}

function configuredBackends(config: JudgeConfigValues, logger: Logger): ConfiguredBackends {
  const backends: JudgeBackend[] = [];
  const closers: Array<() => Promise<void>> = [];
  if (config.openaiBaseUrl) backends.push(openAiBackend(config, logger));
  if (config.llamacppModel) {
    // The in-process llama.cpp backend the generator also serves with (@ragtune/llamacpp): model loading, context
    // pool, grammar, LoRA.
    const llamacpp = createLlamaCppBackend({
      name: "llamacpp",
      models: [{ name: config.llamacppModelName, source: config.llamacppModel }],
      contextSize: config.llamacppContextSize,
      threads: config.llamacppThreads || undefined,
      promptFormat: "completion",
    });
    backends.push(createGenerationJudgeBackend(llamacpp));
    closers.push(() => llamacpp.close());
  }
  return { backends, close: async () => void (await Promise.all(closers.map((close) => close()))) };
}

function openAiBackend(config: JudgeConfigValues, logger: Logger): JudgeBackend {
  const client = createOpenAiClient({
    baseUrl: config.openaiBaseUrl,
    apiKey: config.openaiApiKey,
    timeoutMs: config.openaiTimeoutMs,
    maxConcurrency: config.maxConcurrentRequests,
    onRetry: ({ path, attempt, delayMs, error }) =>
      logger.warn("judge request retried", { path, attempt, delayMs, error: error.message }),
  });
  return createOpenAiJudgeBackend({
    client,
    name: "openai",
    supportsN: config.openaiSupportsN,
    supportsLogprobs: config.openaiSupportsLogprobs,
    maxN: config.openaiMaxN,
  });
}

export async function build(ctx: JudgeBuildContext): Promise<BuiltService> {
  const { config, logger } = ctx;
  const configured = ctx.backends
    ? { backends: ctx.backends, close: async () => {} }
    : configuredBackends(config, logger);
  const backends = configured.backends.map(createTracedBackend);
  const stores = await createStores(ctx);
  const engine = createJudgeEngine({
    steps: createEvaluationSteps({ store: stores.steps, maxAttempts: config.maxAttempts }),
    cache: stores.scores,
    maxAttempts: config.maxAttempts,
    maxConcurrentRequests: config.maxConcurrentRequests,
    minScoreMass: config.minScoreMass,
  });
  const impl = new JudgeServiceImpl({
    engine,
    backends: {
      backends: new Map(backends.map((b) => [b.name, b])),
      defaultBackend: backends[0]?.name ?? "",
      defaultModel: config.model || (config.llamacppModel ? config.llamacppModelName : ""),
    },
    events: createNatsJudgeEvents(ctx.nats),
    logger,
  });
  logger.info("judge backends", {
    backends: backends.map((b) => ({ name: b.name, n: b.supportsN, logprobs: b.supportsLogprobs })),
    cache: config.cache,
  });
  return { services: [{ service: JudgeService, impl }], onShutdown: configured.close };
}
