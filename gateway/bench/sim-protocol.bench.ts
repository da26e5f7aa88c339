/**
 * The paper's whole protocol, simulated on one 8-GPU node: 3 datasets × 2 open 7B models × {base, 200, 500,
 * 1000} × {LoRA, QLoRA} plus a hosted model × {base, 200, 500, 1000} (its fine-tunes through the fine-tuning
 * API), judged by a hosted model with R=10 repeats on 2 criteria. The real gateway, retriever, trainer, node
 * agents, generator and judge run as processes; only the backends that need a GPU or a paid API are test
 * doubles, timed from published figures (printed below with their sources) on a clock sped up SIM_TIME_FACTOR
 * times:
 *  - one OpenAI-compatible test server per open model, behind a model router (sim/model-router.ts), answers as a
 *    modelled vLLM engine on its own GPU (continuous batching, see sim/vllm-engine-model.ts); another answers the
 *    hosted model and judge as an API with a fixed call time;
 *  - SIM_TRAIN_GPUS node agents (one pretend GPU each, same host) run LoRA/QLoRA jobs on the PEFT test stand-in,
 *    which holds its GPU for the pool's tokens × epochs / the 7B training rate.
 * Prints `BENCH sim_protocol wall_hours=… gpu_busy=… efficiency=…` and the time per stage, where
 *   gpu_busy   = GPU-seconds of work (training as modelled, tokens / rate, + engine steps) / (8 GPUs × wall),
 *   efficiency = ideal wall / achieved wall, ideal = max(that work / 8, the longest single job).
 * SIM_EVAL_SIZE (default 200) questions per dataset are evaluated.
 * The time factor is bounded by the CPU, not by the modelled backends: everything the real services do (about
 * 300-350 CPU-seconds for the whole protocol under tsx) runs at real speed, and work that waits for CPU runs late
 * on the sped-up clock, by the factor. The bench prints the CPU the stack used; a run that used most of the
 * machine's cores measured this machine, not the protocol: lower SIM_TIME_FACTOR (and raise SIM_REAL_BUDGET_S).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { type Experiment, ExperimentService, ExperimentState } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import { JobState, TrainerService } from "@ragtune/contracts/trainer";
import { writeDemoCorpus } from "@ragtune/demo-corpus";
import { createServiceClient, startTestNats } from "@ragtune/runtime";
import { createPlantedEffect, type PacedCall, startFakeOpenAiServer } from "@ragtune/testing";
import { startLocalStack } from "../src/cli/local-stack.js";
import { serviceNodeArgs, stackServices } from "../src/stack.js";
import { describeFigures, FIGURES } from "./sim/published-figures.js";
import { startModelRouter } from "./sim/model-router.js";
import { VllmEngineModel } from "./sim/vllm-engine-model.js";

/**
 * 8: the whole protocol's real CPU work (~330 CPU-s under tsx) fits in the ~0.5 simulated hours it should take
 * (225 s real) on 2 idle cores, with preparation and start-up inside the 10 minutes. 60-120 left the services far
 * behind the clock on this 2-core machine (a 3.8 h "wall" for ~0.5 h of modelled work).
 */
const TIME_FACTOR = Number(process.env.SIM_TIME_FACTOR ?? 8);
const NODE_GPUS = 8;
const OPEN_MODELS = ["sim-llama-2-7b", "sim-mistral-7b"];
const HOSTED_MODEL = "sim-hosted-gpt";
const JUDGE_MODEL = "sim-judge";
const TRAIN_GPUS = Number(process.env.SIM_TRAIN_GPUS ?? NODE_GPUS - OPEN_MODELS.length);
const EVAL_SIZE = Number(process.env.SIM_EVAL_SIZE ?? 200);
/** Wall-clock seconds the bench follows the run before it reports what it has (the bench must end in ~10 min). */
const REAL_BUDGET_S = Number(process.env.SIM_REAL_BUDGET_S ?? 480);
/** Dataset format and the demo corpus folder it is in. */
const DATASETS = [
  ["bioasq", "bioasq"],
  ["nq-open", "nq"],
  ["qasper", "qasper"],
] as const;

const sleepReal = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

console.log(`protocol simulation: time runs ${TIME_FACTOR}x faster than real time; node of ${NODE_GPUS} GPUs:`);
console.log(
  `  ${TRAIN_GPUS} training GPUs (one node agent each), ${OPEN_MODELS.length} serving GPUs (one vLLM engine per open model)`,
);
console.log("figures the test backends are timed by:");
for (const line of describeFigures()) console.log(line);

// One modelled engine per open model; hosted model and judge: a fixed API call time.
const engines = new Map(OPEN_MODELS.map((m) => [m, new VllmEngineModel(TIME_FACTOR)]));
let hostedCalls = 0;
async function pace(call: PacedCall) {
  const engine = engines.get(call.base);
  if (engine) {
    // The echo is shorter than a model's answer: the engine decodes a stated answer length per choice.
    const outputTokens = Math.max(call.completionTokens, FIGURES.SIM_ANSWER_TOKENS.value * call.n);
    await engine.submit({ promptTokens: call.promptTokens, outputTokens, adapter: call.adapter ?? "" });
    return;
  }
  hostedCalls++;
  await sleepReal((FIGURES.SIM_HOSTED_CALL_SECONDS.value / TIME_FACTOR) * 1000);
}

const planted = createPlantedEffect({ items: [], judgeModel: JUDGE_MODEL });
const respond = (input: Parameters<typeof planted.respond>[0]) => planted.respond(input);
// One vLLM server per open model (a vLLM server serves one base and its adapters) behind a router the generator
// talks to; the hosted model, its fine-tuning API and the judge on a server of their own.
const openServers = await Promise.all(
  OPEN_MODELS.map((id) => startFakeOpenAiServer({ models: [{ id, maxModelLen: 32_768 }], respond, pace })),
);
const fake = await startFakeOpenAiServer({
  models: [HOSTED_MODEL, JUDGE_MODEL].map((id) => ({ id, maxModelLen: 32_768 })),
  fineTuning: { pollsToSucceed: 3 },
  respond,
  pace,
});
const router = await startModelRouter(new Map(OPEN_MODELS.map((id, i) => [id, openServers[i].baseUrl])), fake.baseUrl);
const nats = await startTestNats();
const dataDir = mkdtempSync(join(tmpdir(), "ragtune-sim-"));
const corpus = join(dataDir, "datasets"); // a folder the gateway reads datasets from
await writeDemoCorpus(corpus);
const logs: string[] = [];
const pace_ = JSON.stringify({
  lora: (FIGURES.SIM_LORA_TOKENS_PER_SECOND.value * TIME_FACTOR) / 1,
  qlora: (FIGURES.SIM_LORA_TOKENS_PER_SECOND.value * TIME_FACTOR) / FIGURES.SIM_QLORA_SLOWDOWN.value,
});
const env: NodeJS.ProcessEnv = {
  ...process.env,
  NODE_ENV: "test",
  NATS_URL: nats.url,
  RAGTUNE_DATA_DIR: dataDir,
  AGENT_EXECUTORS: "peft,openai",
  AGENT_PEFT_TEST_STAND_IN: "1",
  AGENT_PEFT_TEST_STAND_IN_PACE: pace_,
  OPENAI_BASE_URL: fake.baseUrl,
  AGENT_OPENAI_POLL_MS: String(Math.max(20, Math.round((30_000 / TIME_FACTOR) * 1))),
  GENERATOR_OPENAI_BASE_URL: router.baseUrl,
  GENERATOR_OPENAI_ADAPTER_DIR: join(dataDir, "adapters"),
  JUDGE_OPENAI_BASE_URL: fake.baseUrl,
  JUDGE_MODEL,
  RAGTUNE_LOG_LEVEL: process.env.SIM_LOG_LEVEL ?? "warn",
};
const stack = await startLocalStack({
  env: { ...env, AGENT_NODE_ID: "sim-node-gpu0" },
  dataDir,
  anyPort: true,
  // Under tsx on a busy 2-core machine a service can take minutes to start.
  startTimeoutMs: 300_000,
  onLog: (service, line) => logs.push(`[${service}] ${line}`),
}).catch((error) => {
  console.error(logs.slice(-30).join("\n"));
  throw error;
});
const url = (name: string) => stack.processes.find((p) => p.service.name === name)!.url;
// The other training GPUs of the node: one agent each (an agent runs one job at a time).
const agentService = stackServices.find((s) => s.kind === "agent")!;
const trainerUrl = url("trainer");
const extraAgents = Array.from({ length: TRAIN_GPUS - 1 }, (_, i) => {
  // The agent writes each job's scratch folder under its work dir, which must exist.
  mkdirSync(join(dataDir, `agent-${i + 1}`), { recursive: true });
  return spawn(process.execPath, serviceNodeArgs(agentService), {
    env: {
      ...env,
      TRAINER_URL: trainerUrl,
      AGENT_NODE_ID: `sim-node-gpu${i + 1}`,
      AGENT_WORK_DIR: join(dataDir, `agent-${i + 1}`),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
});
for (const [i, agent] of extraAgents.entries()) {
  for (const stream of [agent.stdout!, agent.stderr!]) {
    stream.on("data", (chunk: Buffer) => logs.push(`[agent ${i + 1}] ${chunk.toString().trimEnd()}`));
  }
}

const gateway = createServiceClient(ExperimentService, url("gateway"));
const trainer = createServiceClient(TrainerService, trainerUrl);
const deadline = Date.now() + 180_000;
while ((await trainer.listNodes({})).nodes.length < TRAIN_GPUS && Date.now() < deadline) await sleepReal(200);
console.log(`${(await trainer.listNodes({})).nodes.length} node agents registered`);

const datasets = DATASETS.map(([format, folder]) => ({ format, paths: [join(corpus, folder)] }));
const judge = { model: { baseModel: JUDGE_MODEL, backend: "openai" }, mode: ScoringMode.SINGLE, repeats: 10 };
/**
 * Calls in flight to the one OpenAI-compatible backend (the vLLM router, the hosted model and the hosted judge), as
 * a deployment of these backends sets them in the spec: generate 32 (the spec's own suggestion for vLLM; each
 * engine batches up to 256) and judge 4 ScoreBatch calls (4 × 8 answers × 2 criteria = 64 requests, the judge
 * replica's own limit; a hosted API takes that many). The defaults (8 and 1) are for a laptop's llama.cpp: with
 * them the protocol waits on one judge batch at a time (~1.5 simulated hours) while the GPUs idle.
 */
const backendConcurrency = [{ backend: "openai", generate: 32, judge: 4 }];
const experiments = [
  {
    experimentId: "sim-open",
    spec: {
      name: "paper protocol, open models",
      datasets,
      baseModels: OPEN_MODELS.map((baseModel) => ({ baseModel, backend: "openai" })),
      finetuneSizes: [0, 200, 500, 1000],
      methods: [FineTuneMethod.LORA, FineTuneMethod.QLORA],
      evalSize: EVAL_SIZE,
      seed: 1n,
      judge,
      backendConcurrency,
    },
  },
  {
    experimentId: "sim-hosted",
    spec: {
      name: "paper protocol, hosted model",
      datasets,
      baseModels: [{ baseModel: HOSTED_MODEL, backend: "openai" }],
      finetuneSizes: [0, 200, 500, 1000],
      methods: [FineTuneMethod.HOSTED],
      evalSize: EVAL_SIZE,
      seed: 1n,
      judge,
      backendConcurrency,
    },
  },
];

/** CPU seconds (user + system) the processes used so far, from /proc (Linux); 0 for one that is gone. */
function cpuSeconds(pids: (number | undefined)[]): number {
  const ticks = 100; // USER_HZ on Linux
  let total = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      total += (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {}
  }
  return total;
}
const loadAtStart = loadavg()
  .map((l) => l.toFixed(1))
  .join(" ");
const realStart = performance.now();
const simHours = () => ((performance.now() - realStart) / 1000 / 3600) * TIME_FACTOR;
let failed = false;
try {
  for (const e of experiments) await gateway.createExperiment(e);
  for (const e of experiments) await gateway.startExperiment({ experimentId: e.experimentId });
  // Follow both until they end; print progress every few (real) seconds.
  const finished = new Map<string, Experiment>();
  const ends = new Map<string, number>();
  const followUntil = Date.now() + REAL_BUDGET_S * 1000;
  let latest = new Map<string, Experiment>();
  while (finished.size < experiments.length && Date.now() < followUntil) {
    await sleepReal(5000);
    for (const e of experiments) {
      if (finished.has(e.experimentId)) continue;
      const { experiment } = await gateway.getExperiment({ experimentId: e.experimentId });
      if (!experiment) continue;
      latest.set(e.experimentId, experiment);
      if (experiment.state !== ExperimentState.RUNNING) {
        finished.set(e.experimentId, experiment);
        ends.set(e.experimentId, simHours());
      }
      console.log(
        `  t=${simHours().toFixed(2)} h ${e.experimentId}: ${experiment.cellsDone}/${experiment.cellsTotal} cells, ${experiment.currentStage}`,
      );
    }
  }
  const rawWallHours = simHours();
  const complete = finished.size === experiments.length;
  if (!complete) {
    console.log(
      `stopped following after ${REAL_BUDGET_S} s of wall clock (SIM_REAL_BUDGET_S): the run is not finished,`,
    );
    console.log("  so the wall below is a lower bound and the utilisation is of the part that ran");
    latest.forEach((e, id) => finished.has(id) || finished.set(id, e));
  }
  latest = new Map();
  for (const [id, experiment] of finished) {
    console.log(
      `${id}: ${ExperimentState[experiment.state]} after ${(ends.get(id) ?? rawWallHours).toFixed(2)} simulated h${experiment.error ? `: ${experiment.error.slice(0, 400)}` : ""}`,
    );
    if (experiment.state === ExperimentState.FAILED || experiment.state === ExperimentState.CANCELLED) {
      failed = true;
      const problems = logs.filter((l) => /"level":"(error|warn)"|internal/i.test(l));
      console.log(problems.slice(-15).join("\n").slice(0, 8000) || "(no warning or error in the services' logs)");
    }
  }
  // The gateway's own breakdown (ragtune status), in wall-clock seconds of this run: × the factor is simulated.
  console.log("per stage, as the gateway recorded it (ragtune status; simulated time, summed over cells):");
  for (const [id, experiment] of finished) {
    const stages = experiment.timeBreakdown?.stages ?? [];
    const total = stages.reduce((sum, st) => sum + st.seconds, 0);
    for (const st of stages) {
      console.log(
        `  ${id} ${st.stage.padEnd(18)} ${((st.seconds * TIME_FACTOR) / 3600).toFixed(2).padStart(7)} h  ${((st.seconds / (total || 1)) * 100).toFixed(0).padStart(3)}%  (${st.count})`,
      );
    }
    const queued = experiment.timeBreakdown?.queueWaitSeconds ?? 0;
    console.log(`  ${id} waiting for a GPU ${((queued * TIME_FACTOR) / 3600).toFixed(2).padStart(7)} h`);
    for (const cell of experiment.timeBreakdown?.slowestCells.slice(0, 3) ?? []) {
      console.log(`  ${id} slow cell ${cell.cellKey}: ${((cell.seconds * TIME_FACTOR) / 3600).toFixed(2)} h`);
    }
  }
  // Preparing a dataset (load, split, index, retrieve) is real CPU work of the retriever and gateway, not a
  // modelled backend: it ran at real speed, so it counts once, not TIME_FACTOR times. The two experiments
  // prepare the same datasets at the same time: the longer of the two is taken off.
  const prepareReal = Math.max(
    0,
    ...[...finished.values()].map((e) => e.timeBreakdown?.stages.find((st) => st.stage === "prepare")?.seconds ?? 0),
  );
  const wallHours = rawWallHours - (prepareReal * (TIME_FACTOR - 1)) / 3600;
  console.log(
    `wall on the sped-up clock ${rawWallHours.toFixed(2)} h, of which dataset preparation (real CPU work, ${prepareReal.toFixed(0)} s real) counted at real speed: ${wallHours.toFixed(2)} h`,
  );

  // GPU work: the training the jobs modelled (their tokens × epochs / the training rate, from the adapters'
  // metrics) and the engines' busy steps. A job holds its GPU from start to end, which is longer: the agent's
  // real work around training (reading the pool, packing and uploading the adapter) and timer lateness on a
  // busy machine are multiplied by the time factor too; that hold is printed, not counted as work.
  const cellsDone = [...finished.values()].reduce((sum, e) => sum + e.cellsDone, 0);
  const cellsTotal = [...finished.values()].reduce((sum, e) => sum + e.cellsTotal, 0);
  const { jobs } = await trainer.listJobs({ pageSize: 1000 });
  const seconds = (t?: { seconds: bigint; nanos: number }) => (t ? Number(t.seconds) + t.nanos / 1e9 : 0);
  const lora = jobs.filter((j) => j.state === JobState.SUCCEEDED && j.spec?.method !== FineTuneMethod.HOSTED);
  // Job times are wall-clock; scale them to simulated time.
  const jobSim = lora.map((j) => (seconds(j.endTime) - seconds(j.startTime)) * TIME_FACTOR);
  const queueSim = lora.map((j) => (seconds(j.startTime) - seconds(j.createTime)) * TIME_FACTOR);
  const heldGpuSeconds = jobSim.reduce((a, b) => a + b, 0);
  const adapters = (
    await Promise.all(OPEN_MODELS.map((baseModel) => trainer.listAdapters({ baseModel }).then((r) => r.adapters)))
  ).flat();
  const modelledJob = adapters.map((a) => {
    const rate =
      FIGURES.SIM_LORA_TOKENS_PER_SECOND.value /
      (a.spec?.method === FineTuneMethod.QLORA ? FIGURES.SIM_QLORA_SLOWDOWN.value : 1);
    return (a.metrics.train_tokens ?? 0) / rate;
  });
  const trainGpuSeconds = modelledJob.reduce((a, b) => a + b, 0);
  const engineStats = [...engines.values()].map((e) => e.stats);
  const serveGpuSeconds = engineStats.reduce((a, s) => a + s.busySeconds, 0);
  const work = trainGpuSeconds + serveGpuSeconds;
  const wallSeconds = wallHours * 3600;
  const ideal = Math.max(work / NODE_GPUS, ...modelledJob, ...engineStats.map((s) => s.busySeconds));
  const h = (s: number) => `${(s / 3600).toFixed(2)} h`;
  console.log("where the time went (simulated):");
  console.log(
    `  fine-tune: ${lora.length} LoRA/QLoRA jobs (${adapters.length} adapters), ${h(trainGpuSeconds)} of training as modelled on ${TRAIN_GPUS} GPUs (${((trainGpuSeconds / (TRAIN_GPUS * wallSeconds)) * 100).toFixed(0)}% of their time), longest ${h(Math.max(0, ...modelledJob))}; GPUs held start to end ${h(heldGpuSeconds)} (longest ${h(Math.max(0, ...jobSim))}); queued ${h(queueSim.reduce((a, b) => a + b, 0))} in total (longest wait ${h(Math.max(0, ...queueSim))})`,
  );
  for (const [model, engine] of engines) {
    const s = engine.stats;
    console.log(
      `  serve ${model}: ${s.requests} requests, ${s.promptTokens} prompt + ${s.outputTokens} output tokens, engine busy ${h(s.busySeconds)} (${((s.busySeconds / wallSeconds) * 100).toFixed(0)}% of wall), peak batch ${s.peakBatch}, ${s.adapterLoads} adapter loads`,
    );
  }
  console.log(
    `  hosted API calls (hosted model + judge): ${hostedCalls} of ${FIGURES.SIM_HOSTED_CALL_SECONDS.value} s each`,
  );
  console.log(
    `  ideal wall (GPU work / ${NODE_GPUS} GPUs, or the longest job): ${h(ideal)}; achieved ${h(wallSeconds)}`,
  );
  // Whether the sped-up clock can be trusted: the stack's processes share this machine's cores, and a stack
  // that used most of them ran late against the clock (answers, steps and polls come later than modelled).
  const realSeconds = (performance.now() - realStart) / 1000;
  const perService = stack.processes.map((p) => `${p.service.name} ${cpuSeconds([p.child.pid]).toFixed(0)}`);
  const agentsCpu = cpuSeconds(extraAgents.map((a) => a.pid));
  const stackCpu = cpuSeconds([...stack.processes.map((p) => p.child.pid), ...extraAgents.map((a) => a.pid)]);
  const benchCpu = (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
  const cores = availableParallelism();
  console.log(
    `  CPU: services and agents ${stackCpu.toFixed(0)} s, this bench (test backends) ${benchCpu.toFixed(0)} s, over ${realSeconds.toFixed(0)} s real on ${cores} cores (${(((stackCpu + benchCpu) / (realSeconds * cores)) * 100).toFixed(0)}% of the machine; nats-server not counted); load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} (${loadAtStart} at the start)`,
  );
  const machineShare = (stackCpu + benchCpu) / (realSeconds * cores);
  if (machineShare > 0.7 || loadavg()[1] > cores * 1.5) {
    console.log(
      `  WARNING: the machine was short of CPU (stack ${(machineShare * 100).toFixed(0)}% of it, 5-min load ${loadavg()[1].toFixed(1)} on ${cores} cores): real work ran late on the ${TIME_FACTOR}x clock, so wall and stage times are inflated and GPU busy understated; lower SIM_TIME_FACTOR or run on an idle machine`,
    );
  }
  console.log(
    `    CPU s by process: ${perService.join(", ")}, ${extraAgents.length} more agents ${agentsCpu.toFixed(0)}`,
  );
  console.log(
    `  wall with preparation on the sped-up clock (an upper bound): ${rawWallHours.toFixed(2)} h, GPU busy ${(work / (NODE_GPUS * rawWallHours * 3600)).toFixed(3)}`,
  );
  console.log(
    `BENCH sim_protocol wall_hours=${complete ? "" : ">"}${wallHours.toFixed(2)} gpu_busy=${(work / (NODE_GPUS * wallSeconds)).toFixed(3)} efficiency=${(ideal / wallSeconds).toFixed(3)} cells_done=${cellsDone}/${cellsTotal} time_factor=${TIME_FACTOR} wall_hours_upper=${rawWallHours.toFixed(2)}`,
  );
} catch (error) {
  failed = true;
  console.error(error);
  console.error(logs.slice(-30).join("\n"));
} finally {
  // Every service line, for a run that needs explaining (SIM_LOG_LEVEL=info for more than warnings).
  if (process.env.SIM_LOG_FILE) writeFileSync(process.env.SIM_LOG_FILE, `${logs.join("\n")}\n`);
  for (const agent of extraAgents) agent.kill("SIGTERM");
  await stack.stop();
  await nats.stop();
  await router.close();
  await fake.close();
  for (const server of openServers) await server.close();
  for (const engine of engines.values()) engine.close();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
