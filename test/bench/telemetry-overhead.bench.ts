/**
 * What tracing and metrics cost an experiment: the same experiment (a base and a LoRA cell on the PEFT test
 * stand-in, 100 evaluation questions, G-Eval judge R=3 on 2 criteria, every model played by the OpenAI-compatible
 * test server with a fixed 20 ms latency) runs on a stack with telemetry off and on a stack exporting traces and
 * metrics over OTLP to an in-process receiver (metrics every second). Each runs twice; the faster run of each
 * counts. Prints the walls and `BENCH telemetry overhead=<(on - off) / off>` (target ≤ 0.05).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { ExperimentService, ExperimentState } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import { createServiceClient } from "@ragtune/runtime";
import { createPlantedEffect, startFakeOpenAiServer } from "@ragtune/testing";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { startLocalStack } from "@ragtune/gateway/local-stack";
import { startTestNats } from "@ragtune/runtime";
import { startOtlpReceiver } from "../support/otlp-receiver.js";
import { writeSyntheticBioAsq } from "../support/synthetic-bioasq.js";

const BASE = "overhead-base-1b";
const JUDGE = "overhead-judge";
const planted = createPlantedEffect({ items: [], judgeModel: JUDGE });
const fake = await startFakeOpenAiServer({
  latencyMs: 20,
  models: [BASE, JUDGE].map((id) => ({ id, maxModelLen: 16_384 })),
  respond: (input) => planted.respond(input),
});
const receiver = await startOtlpReceiver();

interface Side {
  label: string;
  gateway: ReturnType<typeof createServiceClient<typeof ExperimentService>>;
  dataset: string;
  stop(): Promise<void>;
}

async function startSide(label: string, telemetry: NodeJS.ProcessEnv): Promise<Side> {
  const nats = await startTestNats();
  const dataDir = mkdtempSync(join(tmpdir(), `ragtune-overhead-${label}-`));
  const env = {
    ...process.env,
    NATS_URL: nats.url,
    RAGTUNE_DATA_DIR: dataDir,
    NODE_ENV: "test",
    AGENT_EXECUTORS: "peft",
    AGENT_PEFT_TEST_STAND_IN: "1",
    GENERATOR_OPENAI_BASE_URL: fake.baseUrl,
    GENERATOR_OPENAI_ADAPTER_DIR: join(dataDir, "adapters"),
    JUDGE_OPENAI_BASE_URL: fake.baseUrl,
    JUDGE_MODEL: JUDGE,
    RAGTUNE_LOG_LEVEL: "warn",
    ...telemetry,
  };
  // Under tsx on a busy 2-core machine a service can take minutes to start.
  const stack = await startLocalStack({ env, dataDir, anyPort: true, startTimeoutMs: 300_000 });
  const dataset = join(dataDir, "datasets", "bioasq");
  mkdirSync(dataset, { recursive: true });
  writeSyntheticBioAsq(dataset, 320);
  const url = stack.processes.find((p) => p.service.name === "gateway")!.url;
  return {
    label,
    gateway: createServiceClient(ExperimentService, url),
    dataset,
    async stop() {
      await stack.stop();
      await nats.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function runOnce(side: Side, round: number): Promise<number> {
  const experimentId = `overhead-${side.label}-${round}`;
  await side.gateway.createExperiment({
    experimentId,
    spec: {
      name: experimentId,
      datasets: [{ format: "bioasq", paths: [side.dataset] }],
      baseModels: [{ baseModel: BASE, backend: "openai" }],
      finetuneSizes: [0, 200],
      methods: [FineTuneMethod.LORA],
      evalSize: 100,
      seed: BigInt(round),
      judge: { model: { baseModel: JUDGE, backend: "openai" }, mode: ScoringMode.SINGLE, repeats: 3 },
    },
  });
  const started = performance.now();
  await side.gateway.startExperiment({ experimentId });
  let state = ExperimentState.RUNNING;
  for await (const update of side.gateway.watchExperiment({ experimentId }, { timeoutMs: 600_000 })) {
    state = update.experiment?.state ?? state;
  }
  const wall = (performance.now() - started) / 1000;
  if (state !== ExperimentState.SUCCEEDED) throw new Error(`${experimentId} ended ${ExperimentState[state]}`);
  console.log(`  telemetry ${side.label}, run ${round}: ${wall.toFixed(2)} s`);
  return wall;
}

const sides = [
  await startSide("off", {}),
  await startSide("on", {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "1000",
    OTEL_BSP_SCHEDULE_DELAY: "500",
  }),
];
try {
  const walls: Record<string, number[]> = { off: [], on: [] };
  for (const round of [1, 2, 3]) for (const side of sides) walls[side.label].push(await runOnce(side, round));
  const off = Math.min(...walls.off);
  const on = Math.min(...walls.on);
  console.log(
    `exported while on: ${receiver.spans.length} spans, ${receiver.metrics.length} metric points ` +
      `(${new Set(receiver.metrics.map((m) => m.name)).size} metrics)`,
  );
  console.log(`fastest wall: off ${off.toFixed(2)} s, on ${on.toFixed(2)} s`);
  console.log(`BENCH telemetry overhead=${((on - off) / off).toFixed(3)}`);
} finally {
  for (const side of sides) await side.stop();
  await receiver.close();
  await fake.close();
}
