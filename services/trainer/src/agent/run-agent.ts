/**
 * The `ragtune agent` process: configuration, NATS (adapters and nats-obj:// manifests), GPU probe, executors,
 * the agent loop, and an orderly stop on SIGTERM/SIGINT (running jobs are abandoned; the trainer requeues them).
 */
import { TrainerService } from "@ragtune/contracts/trainer";
import {
  ConfigError,
  connectNats,
  createLogger,
  createServiceClient,
  describeConfig,
  initTelemetry,
  type LogLevel,
  loadConfig,
  type NatsHandle,
} from "@ragtune/runtime";
import { createObjectReader } from "../server.js";
import { agentSettings } from "./agent-config.js";
import { createDirectoryAdapterStorage, createObjectStoreAdapterStorage } from "@ragtune/adapter-archive";
import { createCpuReaderExecutor } from "./executors/cpu-reader.js";
import type { Executor } from "./executors/executor.js";
import { createOpenAiExecutor } from "./executors/openai.js";
import { createPeftExecutor } from "./executors/peft.js";
import { peftTestStandInFromEnv } from "./executors/peft-test-stand-in.js";
import { probeGpus } from "./gpu-probe.js";
import { NodeAgent } from "./node-agent.js";

export interface RunningAgent {
  agent: NodeAgent;
  stop(): Promise<void>;
}

export async function runAgent(
  env: Record<string, string | undefined> = process.env,
  argv: readonly string[] = process.argv.slice(2),
): Promise<RunningAgent> {
  // Before anything traced: the agent's job spans join the experiment's trace (exported when OTEL_* says so).
  const telemetry = initTelemetry({ serviceName: "ragtune-agent", env });
  let config: ReturnType<typeof loadConfig<typeof agentSettings>>;
  let standIn: ReturnType<typeof peftTestStandInFromEnv>;
  try {
    standIn = peftTestStandInFromEnv(env);
    config = loadConfig(agentSettings, env, argv);
    if (!config.trainerUrl) throw new ConfigError("TRAINER_URL", "is required (the trainer's gRPC base URL)");
    if (config.executors?.includes("openai") && !config.openaiBaseUrl && !config.openaiApiKey) {
      throw new ConfigError("OPENAI_API_KEY", "is required by the openai executor (or set OPENAI_BASE_URL)");
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`ragtune-agent: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger("agent", { level: config.logLevel as LogLevel });
  logger.info("configuration", { config: describeConfig(agentSettings, config) });

  // In tests only: a pretend GPU for the PEFT stand-in, which trains nothing.
  const gpuProbe = standIn ? async () => standIn.gpus : probeGpus;
  if (standIn) logger.warn("peft jobs run on the TEST stand-in executor: no GPU, no training, zero weights");
  const gpus = await gpuProbe();
  const wanted = config.executors
    ? config.executors.split(",")
    : ["cpu-reader", ...(gpus.length ? ["peft"] : []), ...(config.openaiApiKey ? ["openai"] : [])];
  const executors: Executor[] = wanted.map((name) => {
    if (name === "peft") return standIn?.executor ?? createPeftExecutor({ python: config.python });
    if (name === "openai") {
      return createOpenAiExecutor({
        baseUrl: config.openaiBaseUrl || "https://api.openai.com/v1",
        apiKey: config.openaiApiKey,
        pollIntervalMs: config.openaiPollMs,
      });
    }
    return createCpuReaderExecutor();
  });

  let nats: NatsHandle | undefined;
  try {
    nats = await connectNats({ url: config.natsUrl, name: "ragtune-agent", logger });
  } catch (error) {
    // Adapters in a directory and manifests on disk need no NATS; the Object Store does.
    if (!config.adapterDir) throw error;
    logger.warn("running without NATS: nats-obj:// manifests cannot be read", { error: String(error) });
  }
  const storage = config.adapterDir
    ? createDirectoryAdapterStorage(config.adapterDir)
    : createObjectStoreAdapterStorage(nats!.objm, config.adapterBucket);
  const agent = new NodeAgent({
    client: createServiceClient(TrainerService, config.trainerUrl, { authToken: config.authToken }),
    nodeId: config.nodeId || undefined,
    executors,
    probeGpus: gpus.length ? gpuProbe : undefined,
    storage,
    readObject: nats ? createObjectReader(nats) : undefined,
    workRoot: config.workDir || undefined,
    logger,
  });
  // The trainer may start after its agents: keep trying to register.
  for (let delay = 500; ; delay = Math.min(10_000, delay * 2)) {
    try {
      await agent.start();
      break;
    } catch (error) {
      logger.warn("cannot register with the trainer yet", { url: config.trainerUrl, error: String(error) });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  process.stdout.write(
    `${JSON.stringify({ event: "agent-ready", nodeId: agent.nodeId, gpus: gpus.length, executors: wanted })}\n`,
  );

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      logger.info("stopping");
      await agent.stop();
      await nats?.close();
      await telemetry.shutdown();
    })();
    return stopping;
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => void stop().then(() => process.exit(0)));
  }
  return { agent, stop };
}
