/**
 * The `ragtune agent` process on the runtime's worker (telemetry, settings, NATS, ordered stop on SIGTERM/SIGINT):
 * GPU probe, executors, adapter storage, and the agent loop. On a stop running jobs are abandoned; the trainer
 * requeues them.
 */
import { TrainerService } from "@ragtune/contracts/trainer";
import { ConfigError, createServiceClient, logUnhandledRejections, runWorker } from "@ragtune/runtime";
import { createObjectReader } from "../server.js";
import { agentOwnSettings } from "./agent-config.js";
import { createDirectoryAdapterStorage, createObjectStoreAdapterStorage } from "@ragtune/adapter-archive";
import { createCpuReaderExecutor } from "./executors/cpu-reader.js";
import type { Executor } from "./executors/executor.js";
import { createOpenAiExecutor } from "./executors/openai.js";
import { createPeftExecutor } from "./executors/peft.js";
import { peftTestStandInFromEnv } from "./executors/peft-test-stand-in.js";
import { markSharedGpus, probeGpus } from "./gpu-probe.js";
import { agentCredential } from "./agent-credential.js";
import { NodeAgent } from "./node-agent.js";

export interface RunningAgent {
  agent: NodeAgent;
  stop(): Promise<void>;
}

export async function runAgent(
  env: Record<string, string | undefined> = process.env,
  argv: readonly string[] = process.argv.slice(2),
): Promise<RunningAgent> {
  const running = await runWorker({
    name: "agent",
    settings: agentOwnSettings,
    env,
    argv,
    validate: (config) => {
      peftTestStandInFromEnv(env); // refused (exit 2) outside NODE_ENV=test
      if (!config.trainerUrl) throw new ConfigError("TRAINER_URL", "is required (the trainer's gRPC base URL)");
      agentCredential(config);
      if (config.executors?.includes("openai") && !config.openaiBaseUrl && !config.openaiApiKey) {
        throw new ConfigError("OPENAI_API_KEY", "is required by the openai executor (or set OPENAI_BASE_URL)");
      }
    },
    // Adapters in a directory and manifests on disk need no NATS; the Object Store does.
    runsWithoutNats: (config) => (config.adapterDir ? "nats-obj:// manifests cannot be read" : undefined),
    start: async ({ config, nats, logger }) => {
      // A stray rejection must not end the agent and the training job it runs (the trainer would declare it lost).
      logUnhandledRejections(logger);
      const trainerUrl = config.trainerUrl as string;
      const credential = agentCredential(config);
      if (credential.derivedFromSharedToken) {
        logger.warn(
          "node credential derived from the shared RAGTUNE_AUTH_TOKEN; give this agent RAGTUNE_AGENT_TOKEN only",
        );
      }
      // In tests only: the PEFT stand-in, which trains nothing, and a pretend GPU for it.
      const standIn = peftTestStandInFromEnv(env);
      const probe = standIn ? async () => standIn.gpus : probeGpus;
      const shared = new Set((config.sharedGpus || "").split(",").filter(Boolean).map(Number));
      const gpuProbe = async () => markSharedGpus(await probe(), shared);
      if (standIn) logger.warn("peft jobs run on the TEST stand-in executor: no GPU, no training, zero weights");
      const gpus = await gpuProbe();
      const wanted = config.executors
        ? config.executors.split(",")
        : ["cpu-reader", ...(gpus.length ? ["peft"] : []), ...(config.openaiApiKey ? ["openai"] : [])];
      const executors: Executor[] = wanted.map((name) => {
        if (name === "peft")
          return standIn?.executor ?? createPeftExecutor({ python: config.python, killGraceMs: config.killGraceMs });
        if (name === "openai") {
          return createOpenAiExecutor({
            baseUrl: config.openaiBaseUrl || "https://api.openai.com/v1",
            apiKey: config.openaiApiKey,
            pollIntervalMs: config.openaiPollMs,
          });
        }
        return createCpuReaderExecutor();
      });
      const storage = config.adapterDir
        ? createDirectoryAdapterStorage(config.adapterDir)
        : createObjectStoreAdapterStorage(nats!.objm, config.adapterBucket);
      const agent = new NodeAgent({
        client: createServiceClient(TrainerService, trainerUrl, { authToken: credential.token }),
        nodeId: credential.nodeId,
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
          logger.warn("cannot register with the trainer yet", { url: trainerUrl, error: String(error) });
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
      process.stdout.write(
        `${JSON.stringify({ event: "agent-ready", nodeId: agent.nodeId, gpus: gpus.length, executors: wanted })}\n`,
      );
      return agent;
    },
  });
  return { agent: running.worker, stop: running.stop };
}
