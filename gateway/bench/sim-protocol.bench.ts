/**
 * The paper's whole protocol, simulated on one 8-GPU node: 3 datasets × 2 open 7B models × {base, 200, 500,
 * 1000} × {LoRA, QLoRA} plus a hosted model × {base, 200, 500, 1000} (its fine-tunes through the fine-tuning
 * API), judged by a hosted model with R=10 repeats on 2 criteria. The real gateway, retriever, trainer, node
 * agents, generator and judge run as processes; only the backends that need a GPU or a paid API are test
 * doubles, timed from published figures (printed below with their sources) on a clock sped up SIM_TIME_FACTOR
 * times:
 *  - one OpenAI-compatible test server per open model, behind a model router (sim/model-router.ts), answers as a
 *    modelled vLLM engine (continuous batching, see sim/vllm-engine-model.ts) on a serving GPU of its own (or both
 *    on one, their steps taking turns: SIM_SERVING_GPUS=1); another answers the
 *    hosted model and judge as an API each, with a fixed call time under its published rate limits
 *    (sim/hosted-api-model.ts);
 *  - node agents (one pretend GPU each, same host) run LoRA/QLoRA jobs on the PEFT test stand-in, which holds its
 *    GPU for the pool's tokens × epochs / the 7B training rate: one on each of the SIM_TRAIN_GPUS training GPUs
 *    (default 6), and one on each serving GPU, whose training time-slices the GPU with its vLLM servers (timed by
 *    the serving GPU's model through sim/shared-gpu-server.ts; SIM_TRAIN_ON_SERVING_GPUS=0 leaves them out).
 * Prints `BENCH sim_protocol wall_hours=… gpu_busy=… efficiency=…` and the time per stage, where
 *   gpu_busy   = GPU-seconds of work (training as modelled, tokens / rate, + engine steps) / (8 GPUs × wall),
 *   efficiency = ideal wall / achieved wall, ideal = a lower bound on the wall of any schedule of the same work on
 *                this deployment: the largest of the first dataset's preparation + all GPU work / 8 (training
 *                work / the training GPUs when the serving GPUs do not train), the longest fine-tune, each
 *                serving GPU's busy time, each hosted API's requests and tokens under its rate limits, and the last
 *                dataset's chain (preparation of all datasets, its longest fine-tune, a judge call).
 * SIM_EVAL_SIZE (default 200) questions per dataset are evaluated. SIM_JOBS=1 lists the fine-tunes as they ran,
 * SIM_TIMELINE=1 what the APIs and serving GPUs did in each 0.01 h.
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
import { HostedApiModel } from "./sim/hosted-api-model.js";
import { startSharedGpuServer } from "./sim/shared-gpu-server.js";
import { VllmEngineModel } from "./sim/vllm-engine-model.js";

/**
 * 3: the protocol's real CPU work (~220 CPU-s of services and test backends once started, ~80 of them the judge's,
 * one Node process) must keep up with the sped-up clock. The judge API's rate limit (167 requests/s simulated) at
 * the judge's ~3.7 ms of CPU a request needs 0.62 of a core per unit of time factor: at 3 the judge process sends
 * at most ~90 requests/s simulated, and it, not the API, paces the judging of the last fine-tunes (the bench
 * prints this). Factor 2 gave the same wall (0.18 h) in 5m47s; 4 and 8 ran the services late on the clock. At 3 the
 * run (~0.18 simulated h) takes ~4 minutes with start-up and preparation on 2 cores. 60-120 left the services far
 * behind the clock (a 3.8 h "wall" for ~0.5 h of modelled work).
 */
const TIME_FACTOR = Number(process.env.SIM_TIME_FACTOR ?? 3);
const NODE_GPUS = 8;
const OPEN_MODELS = ["sim-llama-2-7b", "sim-mistral-7b"];
const HOSTED_MODEL = "sim-hosted-gpt";
const JUDGE_MODEL = "sim-judge";
/**
 * GPUs the vLLM servers run on: one each (2) by default. SIM_SERVING_GPUS=1 puts both 7B servers on one card (bf16
 * weights ~14 GB each, each server at --gpu-memory-utilization 0.45 of 80 GB), their steps taking turns, and gives
 * training a 7th GPU: with a GPU each the engines were busy 27-29% of the run, but measured at time factor 3 the
 * shared card was busy 64% and the last fine-tunes' evaluation took 0.04 h instead of 0.02 h after training
 * ended 0.01 h sooner: wall 0.18 h either way, efficiency 0.70 against 0.81.
 */
const SERVING_GPUS = Math.min(OPEN_MODELS.length, Math.max(1, Number(process.env.SIM_SERVING_GPUS ?? 2)));
/** GPUs for fine-tunes only. */
const DEDICATED_TRAIN_GPUS = Number(process.env.SIM_TRAIN_GPUS ?? NODE_GPUS - SERVING_GPUS);
/**
 * Fine-tunes on the serving GPUs too (the default; SIM_TRAIN_ON_SERVING_GPUS=0 keeps those for serving): a node
 * agent on each serving GPU reports the memory its vLLM servers leave free (80 GiB less VLLM_MEMORY_SHARE of it per
 * server) and the GPU shared (AGENT_SHARED_GPUS: the trainer gives it the back of its queue), and takes any
 * fine-tune whose estimate fits (a 7B LoRA is estimated at 17-28 GiB, QLoRA 7-17), the
 * two time-slicing the GPU (sim/shared-gpu-server.ts, VllmEngineModel.train). With the serving GPUs serving only,
 * they were busy ~29% of the run, and GPU busy could not pass 0.84 even at the ideal wall (0.99 GPU-hours of
 * work on 8 GPUs in 0.148 h).
 */
const TRAIN_ON_SERVING_GPUS = process.env.SIM_TRAIN_ON_SERVING_GPUS !== "0";
const TRAIN_GPUS = DEDICATED_TRAIN_GPUS + (TRAIN_ON_SERVING_GPUS ? SERVING_GPUS : 0);
/** Of a serving GPU's memory, what each vLLM server on it takes (--gpu-memory-utilization). */
const VLLM_MEMORY_SHARE = 0.45;
const GPU_GIB = 80;
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
  `  ${DEDICATED_TRAIN_GPUS} training GPUs (one node agent each), ${SERVING_GPUS} serving GPU(s) for ${OPEN_MODELS.length} vLLM servers (one per open model)${TRAIN_ON_SERVING_GPUS ? ", each also training (a node agent each, time-slicing the GPU with its servers)" : ""}`,
);
console.log("figures the test backends are timed by:");
for (const line of describeFigures()) console.log(line);

// The serving GPUs, each a modelled engine that the vLLM servers of the open models placed on it share (model i
// on GPU i mod SERVING_GPUS); the hosted model and the judge: an API each, under its own rate limits.
const servingGpus = Array.from({ length: SERVING_GPUS }, () => new VllmEngineModel(TIME_FACTOR));
const engines = new Map(OPEN_MODELS.map((m, i) => [m, servingGpus[i % SERVING_GPUS]]));
const hostedApis = new Map([HOSTED_MODEL, JUDGE_MODEL].map((m) => [m, new HostedApiModel(TIME_FACTOR)]));
const sharedGpuServer = await startSharedGpuServer(servingGpus, TIME_FACTOR);
/** GiB a serving GPU's vLLM servers leave free for a fine-tune. */
const freeGibOnServingGpu = (i: number) =>
  GPU_GIB * (1 - VLLM_MEMORY_SHARE * OPEN_MODELS.filter((_, m) => m % SERVING_GPUS === i).length);
async function pace(call: PacedCall) {
  const engine = engines.get(call.base);
  if (engine) {
    // The echo is shorter than a model's answer: the engine decodes a stated answer length per choice.
    const outputTokens = Math.max(call.completionTokens, FIGURES.SIM_ANSWER_TOKENS.value * call.n);
    await engine.submit({
      promptTokens: call.promptTokens,
      outputTokens,
      adapter: call.adapter ?? "",
      server: call.base,
    });
    return;
  }
  // A hosted fine-tune answers under its base model's limits.
  const api = hostedApis.get(call.base) ?? hostedApis.get(HOSTED_MODEL)!;
  await api.call({ promptTokens: call.promptTokens, n: call.n });
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
  JUDGE_MAX_CONCURRENT_REQUESTS: process.env.JUDGE_MAX_CONCURRENT_REQUESTS ?? "512",
  // The generator replica's requests in flight to its one OpenAI URL (the router before both vLLM servers, and the
  // hosted model): room for the experiments' generate limits together (default 64).
  GENERATOR_OPENAI_MAX_CONCURRENCY: process.env.GENERATOR_OPENAI_MAX_CONCURRENCY ?? "512",
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
  // The agents past the dedicated GPUs are on the serving GPUs.
  const servingGpu = i + 1 - DEDICATED_TRAIN_GPUS;
  const onServingGpu =
    servingGpu >= 0
      ? {
          AGENT_PEFT_TEST_STAND_IN_GPU_URL: sharedGpuServer.urlOf(servingGpu),
          AGENT_PEFT_TEST_STAND_IN_GPU_FREE_GIB: String(freeGibOnServingGpu(servingGpu)),
          // As an operator running vLLM beside the agent declares it.
          AGENT_SHARED_GPUS: "0",
        }
      : {};
  return spawn(process.execPath, serviceNodeArgs(agentService), {
    env: {
      ...env,
      ...onServingGpu,
      TRAINER_URL: trainerUrl,
      AGENT_NODE_ID: servingGpu >= 0 ? `sim-node-serving-gpu${servingGpu}` : `sim-node-gpu${i + 1}`,
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
 * a deployment of these backends sets them in the spec (the defaults, 8 and 1 of 8 requests, are for a laptop's
 * llama.cpp):
 *  - generate 256 per experiment (SIM_GENERATE_IN_FLIGHT), the generator replica allowed 512
 *    (GENERATOR_OPENAI_MAX_CONCURRENCY): each vLLM engine batches up to 256. At 64 (the replica's default) the
 *    engines' batches never passed 64 and every cell's answers took longer on them.
 *  - judge: 32 ScoreBatch calls (SIM_JUDGE_BATCHES) of up to 50 requests each in flight (SIM_JUDGE_REQUESTS_PER_CALL:
 *    a call holds 50 answers), the judge replica allowed 512 (JUDGE_MAX_CONCURRENT_REQUESTS). The judge API's rate
 *    limit (SIM_HOSTED_RPM) at SIM_HOSTED_CALL_SECONDS a request takes 10,000 / 60 × 2.5 ≈ 420 requests in flight
 *    to use. With the judge's default of 8 requests a call, a cell of 200 answers (4 calls) had 32 in flight,
 *    ~13 requests/s: the last cells were judged at 25-35 requests/s after training ended, 0.01 h for what the API
 *    does in seconds. With 4 calls each (64 requests, the replica's default) the run was judge-bound: 0.37 h for
 *    ~0.15 h of training per GPU.
 */
const JUDGE_BATCHES_IN_FLIGHT = Number(process.env.SIM_JUDGE_BATCHES ?? 32);
const JUDGE_REQUESTS_PER_CALL = Number(process.env.SIM_JUDGE_REQUESTS_PER_CALL ?? 50);
const GENERATE_IN_FLIGHT = Number(process.env.SIM_GENERATE_IN_FLIGHT ?? 256);
const backendConcurrency = [
  {
    backend: "openai",
    generate: GENERATE_IN_FLIGHT,
    judge: JUDGE_BATCHES_IN_FLIGHT,
    judgeRequestsPerCall: JUDGE_REQUESTS_PER_CALL,
  },
];
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
const realStartEpochSeconds = Date.now() / 1000;
// The services' start-up (tsx compiling each one) is not the protocol's work: CPU is counted from here.
const stackPids = () => [...stack.processes.map((p) => p.child.pid), ...extraAgents.map((a) => a.pid)];
const stackCpuAtStart = cpuSeconds(stackPids());
const judgePid = () => stack.processes.find((p) => p.service.name === "judge")?.child.pid;
const judgeCpuAtStart = cpuSeconds([judgePid()]);
const benchCpuAtStart = (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
const simHours = () => ((performance.now() - realStart) / 1000 / 3600) * TIME_FACTOR;
let failed = false;
/** Per period of simulated time: judge and hosted requests a second, each serving GPU's share serving / training. */
function printTimeline() {
  const period = 0.01; // h
  console.log(
    `what the backends did per ${period} h of simulated time (requests/s; a serving GPU's share serving + training):`,
  );
  let from = samples[0];
  for (const to of samples) {
    if (to.at - from.at < period && to !== samples[samples.length - 1]) continue;
    const seconds = (to.at - from.at) * 3600;
    const gpus = to.serving.map(
      (busy, i) =>
        `gpu${i} ${((busy - from.serving[i]) / seconds).toFixed(2)}+${((to.training[i] - from.training[i]) / seconds).toFixed(2)}`,
    );
    console.log(
      `  ${from.at.toFixed(3)}-${to.at.toFixed(3)} h: judge ${((to.judge - from.judge) / seconds).toFixed(0)}/s, hosted ${((to.hosted - from.hosted) / seconds).toFixed(0)}/s, ${gpus.join(", ")}`,
    );
    from = to;
  }
}
/**
 * What the backends did, sampled every 2 s of wall clock when SIM_TIMELINE=1 and printed by period of simulated
 * time (hosted API requests started, each serving GPU's serving and training work).
 */
const samples: { at: number; judge: number; hosted: number; serving: number[]; training: number[] }[] = [];
const sample = () =>
  samples.push({
    at: simHours(),
    judge: hostedApis.get(JUDGE_MODEL)!.stats.requests,
    hosted: hostedApis.get(HOSTED_MODEL)!.stats.requests,
    serving: servingGpus.map((gpu) => gpu.stats.busySeconds),
    training: servingGpus.map((gpu) => gpu.gpu.trainingSeconds),
  });
const timeline = Boolean(process.env.SIM_TIMELINE);
const sampler = timeline ? setInterval(sample, 2000) : undefined;
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
  const { jobs } = await trainer.listJobs({ pageSize: 1000 });
  const seconds = (t?: { seconds: bigint; nanos: number }) => (t ? Number(t.seconds) + t.nanos / 1e9 : 0);
  // Preparing a dataset (load, split, index, retrieve) is real CPU work of the retriever and gateway, not a
  // modelled backend: it runs at real speed and counts TIME_FACTOR times on the sped-up clock. The first
  // dataset's preparation holds up everything (no fine-tune or answer comes before it): it is counted at real
  // speed, from the start to the first fine-tune submitted. The later ones overlap the first dataset's training
  // and stay as they ran, TIME_FACTOR times too long: their jobs come later than in a deployment, so this wall is
  // if anything too long. (Taking every preparation off, as this bench did before, assumed all of them held
  // everything up: 0.17 h where this gives 0.20 h at time factor 4.) Both experiments prepare the same datasets
  // at the same time.
  const prepareReal = Math.max(
    0,
    ...[...finished.values()].map((e) => e.timeBreakdown?.stages.find((st) => st.stage === "prepare")?.seconds ?? 0),
  );
  const firstPrepareReal = Math.max(0, Math.min(...jobs.map((j) => seconds(j.createTime))) - realStartEpochSeconds);
  const wallHours = rawWallHours - (firstPrepareReal * (TIME_FACTOR - 1)) / 3600;
  console.log(
    `wall on the sped-up clock ${rawWallHours.toFixed(2)} h; the first dataset's preparation (real CPU work, ${firstPrepareReal.toFixed(0)} s real of ${prepareReal.toFixed(0)} s for all) counted at real speed: ${wallHours.toFixed(2)} h`,
  );

  // GPU work: the training the jobs modelled (their tokens × epochs / the training rate, from the adapters'
  // metrics) and the engines' busy steps. A job holds its GPU from start to end, which is longer: the agent's
  // real work around training (reading the pool, packing and uploading the adapter) and timer lateness on a
  // busy machine are multiplied by the time factor too; that hold is printed, not counted as work.
  const cellsDone = [...finished.values()].reduce((sum, e) => sum + e.cellsDone, 0);
  const cellsTotal = [...finished.values()].reduce((sum, e) => sum + e.cellsTotal, 0);
  const lora = jobs.filter((j) => j.state === JobState.SUCCEEDED && j.spec?.method !== FineTuneMethod.HOSTED);
  // Job times are wall-clock; scale them to simulated time.
  const jobSim = lora.map((j) => (seconds(j.endTime) - seconds(j.startTime)) * TIME_FACTOR);
  const queueSim = lora.map((j) => (seconds(j.startTime) - seconds(j.createTime)) * TIME_FACTOR);
  const heldGpuSeconds = jobSim.reduce((a, b) => a + b, 0);
  // When training ran, on the sped-up clock from the start of the run: what came before and after it is the
  // first preparation and the evaluation of the last fine-tunes.
  const simAt = (t?: { seconds: bigint; nanos: number }) => (seconds(t) - realStartEpochSeconds) * TIME_FACTOR;
  const trainingFrom = Math.min(...lora.map((j) => simAt(j.startTime)));
  const trainingTo = Math.max(...lora.map((j) => simAt(j.endTime)));
  const adapters = (
    await Promise.all(OPEN_MODELS.map((baseModel) => trainer.listAdapters({ baseModel }).then((r) => r.adapters)))
  ).flat();
  const modelledSeconds = (a: (typeof adapters)[number]) => {
    const rate =
      FIGURES.SIM_LORA_TOKENS_PER_SECOND.value /
      (a.spec?.method === FineTuneMethod.QLORA ? FIGURES.SIM_QLORA_SLOWDOWN.value : 1);
    return (a.metrics.train_tokens ?? 0) / rate;
  };
  const modelledJob = adapters.map(modelledSeconds);
  const trainGpuSeconds = modelledJob.reduce((a, b) => a + b, 0);
  const serveGpuSeconds = servingGpus.reduce((a, gpu) => a + gpu.stats.busySeconds, 0);
  const work = trainGpuSeconds + serveGpuSeconds;
  const wallSeconds = wallHours * 3600;
  const h = (s: number, digits = 2) => `${(s / 3600).toFixed(digits)} h`;
  // The ideal wall: a lower bound on any schedule of this run's work on this deployment, the largest of
  //  - training: the modelled GPU work of the fine-tunes spread evenly over the training GPUs, and the longest job;
  //  - serving: each serving GPU's busy time (its vLLM servers' steps, one at a time);
  //  - each hosted API: its requests and tokens under its rate limits (HostedApiModel.leastSeconds);
  //  - the chain of the last dataset: its preparation waits for the ones before it (the gateway prepares datasets
  //    one after another, real CPU work counted at real speed), then its longest fine-tune, then at least one
  //    judge call (generating the answer first is left out: a looser bound).
  const lastDataset = DATASETS[DATASETS.length - 1][0];
  const lastDatasetLongest = Math.max(
    0,
    ...adapters.filter((a) => a.jobId.includes(`.${lastDataset}.`)).map(modelledSeconds),
  );
  const bounds: [string, number][] = [
    TRAIN_ON_SERVING_GPUS
      ? [
          `the first dataset's preparation (no GPU work can start before it), then all GPU work (training + serving) / ${NODE_GPUS} GPUs`,
          firstPrepareReal + work / NODE_GPUS,
        ]
      : [`training GPU work / ${TRAIN_GPUS} training GPUs`, trainGpuSeconds / TRAIN_GPUS],
    ["longest fine-tune", Math.max(0, ...modelledJob)],
    ...servingGpus.map((gpu, i): [string, number] => [
      `serving GPU ${i} busy (${[...gpu.serverStats().keys()].join(" + ")})`,
      gpu.stats.busySeconds,
    ]),
    ...[...hostedApis].map(([model, api]): [string, number] => [
      `rate limits of ${model}'s API`,
      HostedApiModel.leastSeconds(api.stats),
    ]),
    [
      `chain: preparing every dataset, then ${lastDataset}'s longest fine-tune, then a judge call`,
      prepareReal + lastDatasetLongest + FIGURES.SIM_HOSTED_CALL_SECONDS.value,
    ],
  ];
  const ideal = Math.max(...bounds.map(([, b]) => b));
  console.log("where the time went (simulated):");
  console.log(
    `  fine-tune: ${lora.length} LoRA/QLoRA jobs (${adapters.length} adapters), ${h(trainGpuSeconds)} of training as modelled on ${TRAIN_GPUS} GPUs (${((trainGpuSeconds / (TRAIN_GPUS * wallSeconds)) * 100).toFixed(0)}% of their time), longest ${h(Math.max(0, ...modelledJob))}; GPUs held start to end ${h(heldGpuSeconds)} (longest ${h(Math.max(0, ...jobSim))}); queued ${h(queueSim.reduce((a, b) => a + b, 0))} in total (longest wait ${h(Math.max(0, ...queueSim))})`,
  );
  if (lora.length) {
    console.log(
      `  training ran from ${h(trainingFrom)} to ${h(trainingTo)} on the sped-up clock (of ${h(rawWallHours * 3600)}): its ${TRAIN_GPUS} GPUs held ${((heldGpuSeconds / (TRAIN_GPUS * (trainingTo - trainingFrom))) * 100).toFixed(0)}% of that span; the last fine-tune's cells were evaluated in the ${h(rawWallHours * 3600 - trainingTo)} after it`,
    );
  }
  if (timeline) {
    clearInterval(sampler);
    sample();
    printTimeline();
  }
  if (process.env.SIM_JOBS) {
    // Every fine-tune on the sped-up clock, in the order they started: the queue order the trainer chose.
    for (const j of [...lora].sort((a, b) => simAt(a.startTime) - simAt(b.startTime))) {
      console.log(
        `    job ${j.jobId} priority ${j.priority}: submitted ${h(simAt(j.createTime), 3)}, ran ${h(simAt(j.startTime), 3)} to ${h(simAt(j.endTime), 3)} on ${j.nodeId}`,
      );
    }
  }
  for (const [i, gpu] of servingGpus.entries()) {
    for (const [model, s] of gpu.serverStats()) {
      console.log(
        `  serve ${model} on serving GPU ${i}: ${s.requests} requests, ${s.promptTokens} prompt + ${s.outputTokens} output tokens, its steps ${h(s.busySeconds)}, peak batch ${s.peakBatch}, ${s.adapterLoads} adapter loads`,
      );
    }
    console.log(
      `  serving GPU ${i}: serving ${h(gpu.stats.busySeconds)} (${((gpu.stats.busySeconds / wallSeconds) * 100).toFixed(0)}% of wall), training ${h(gpu.gpu.trainingSeconds)}, something on it ${h(gpu.gpu.occupiedSeconds)} (${((gpu.gpu.occupiedSeconds / wallSeconds) * 100).toFixed(0)}%)`,
    );
  }
  for (const [model, api] of hostedApis) {
    const s = api.stats;
    console.log(
      `  hosted API ${model}: ${s.requests} requests of ${FIGURES.SIM_HOSTED_CALL_SECONDS.value} s, ${(s.limitTokens / 1e6).toFixed(1)} M tokens counted against ${FIGURES.SIM_HOSTED_TPM.value / 1e6} M/min (${(s.limitTokens / Math.max(1, s.requests)) | 0} a request), ${h(s.throttledSeconds)} waited for the rate limits in total`,
    );
  }
  console.log("lower bounds on the wall for this deployment (simulated):");
  for (const [what, bound] of bounds)
    console.log(`  ${h(bound).padStart(7)}  ${what}${bound === ideal ? "  <- ideal" : ""}`);
  console.log(
    `  ideal ${h(ideal)}, achieved ${h(wallSeconds)}; at the ideal wall GPU busy would be ${(work / (NODE_GPUS * ideal)).toFixed(3)} (${h(work)} of GPU work on ${NODE_GPUS} GPUs)`,
  );
  // Whether the sped-up clock can be trusted: the stack's processes share this machine's cores, and a stack
  // that used most of them ran late against the clock (answers, steps and polls come later than modelled).
  const realSeconds = (performance.now() - realStart) / 1000;
  const perService = stack.processes.map((p) => `${p.service.name} ${cpuSeconds([p.child.pid]).toFixed(0)}`);
  const agentsCpu = cpuSeconds(extraAgents.map((a) => a.pid));
  const stackCpu = cpuSeconds(stackPids()) - stackCpuAtStart;
  const benchCpu = (process.cpuUsage().user + process.cpuUsage().system) / 1e6 - benchCpuAtStart;
  const cores = availableParallelism();
  console.log(
    `  CPU since the start of the run: services and agents ${stackCpu.toFixed(0)} s, this bench (test backends) ${benchCpu.toFixed(0)} s, over ${realSeconds.toFixed(0)} s real on ${cores} cores (${(((stackCpu + benchCpu) / (realSeconds * cores)) * 100).toFixed(0)}% of the machine; nats-server not counted); load average ${loadavg()
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
    `    CPU s by process, start-up included: ${perService.join(", ")}, ${extraAgents.length} more agents ${agentsCpu.toFixed(0)}`,
  );
  // The judge is one Node process: its CPU per request caps how fast it can send requests on the sped-up clock.
  // Where that is below the API's rate limit, judging (the end of the run above all, when the last fine-tunes'
  // cells are judged together) ran at the judge process's pace, not the modelled API's.
  const judgeApi = hostedApis.get(JUDGE_MODEL)!.stats;
  const judgeCpuPerRequest = (cpuSeconds([judgePid()]) - judgeCpuAtStart) / Math.max(1, judgeApi.requests);
  const judgeMaxRate = 1 / (judgeCpuPerRequest * TIME_FACTOR);
  console.log(
    `  judge process: ${(judgeCpuPerRequest * 1000).toFixed(1)} ms CPU a request, so at most ${judgeMaxRate.toFixed(0)} requests/s simulated at ${TIME_FACTOR}x on one core, against the API's ${(FIGURES.SIM_HOSTED_RPM.value / 60).toFixed(0)}/s${judgeMaxRate < FIGURES.SIM_HOSTED_RPM.value / 60 ? ": the judge's CPU, not the API, set the pace of judging" : ""}`,
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
  await sharedGpuServer.close();
  await fake.close();
  for (const server of openServers) await server.close();
  for (const gpu of servingGpus) gpu.close();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
