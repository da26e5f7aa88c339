/**
 * One small experiment (a base cell and a hosted fine-tune cell, judged with repeats) on a fault stack, with or
 * without a seeded schedule that SIGKILLs and restarts processes while it runs, and the measures the fault suite
 * compares: the result rows, cells lost, and LLM requests beyond what an uninterrupted run sends.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { type Experiment, ExperimentService, ExperimentState, type ResultRow } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import { createServiceClient } from "@ragtune/runtime";
import {
  createPlantedEffect,
  type FakeOpenAiServer,
  type PlantedEffect,
  type RecordedRequest,
  startFakeOpenAiServer,
} from "@ragtune/testing";
import { plantedItems } from "../support/planted-stack.js";
import { writeSyntheticBioAsq } from "../support/synthetic-bioasq.js";
import { FAULT_TARGETS, type FaultStack, type FaultTarget, startFaultStack } from "./fault-stack.js";

const BASE_MODEL = "faults-base-1b";
export const JUDGE_MODEL = "faults-judge";

export interface FaultRunOptions {
  /** Seeds the experiment, the planted model's draws and the kill schedule. */
  seed: number;
  /** SIGKILLs to deal out while the experiment runs; 0: an uninterrupted run. */
  kills: number;
  /** The whole run must end within this, or it fails with the stack's logs. */
  deadlineMs: number;
  /** Evaluation questions per cell; more gives the schedule a longer run to kill into. Default 10. */
  evalSize?: number;
  /** Time the test LLM server takes per completion: a run long enough to kill into on a fast, idle machine. */
  llmLatencyMs?: number;
}

export interface FaultRunResult {
  experiment: Experiment;
  rows: ResultRow[];
  /** What was killed, in order, and when (ms after start). */
  kills: Array<{ target: FaultTarget; atMs: number }>;
  /** Answered LLM requests by their exact body (model, prompt, sampling): how often each was answered. */
  llmRequests: Map<string, number>;
  /** LLM requests whose caller went away before they were answered (killed mid-request). */
  abandonedLlmRequests: number;
  /** Answered LLM requests by key, with when each arrived (ms after start): where a repeat came from. */
  llmArrivals: Map<string, number[]>;
  /** The services' warnings and errors, to read beside the repeats. */
  warnings: string[];
}

/** mulberry32: a small seeded generator, so a seed gives the same schedule every time. */
function seeded(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The kill plan: each kill at a random delay after the previous restart, of a random process; every process is
 * drawn once before any is drawn again, so with 7 or more kills each one dies at least once.
 */
export function killSchedule(
  seed: number,
  kills: number,
): Array<{ target: FaultTarget; delayMs: number; downMs: number }> {
  const random = seeded(seed);
  const plan: Array<{ target: FaultTarget; delayMs: number; downMs: number }> = [];
  let bag: FaultTarget[] = [];
  for (let i = 0; i < kills; i++) {
    if (bag.length === 0) bag = [...FAULT_TARGETS];
    const target = bag.splice(Math.floor(random() * bag.length), 1)[0];
    plan.push({ target, delayMs: 500 + Math.floor(random() * 2000), downMs: 200 + Math.floor(random() * 800) });
  }
  return plan;
}

const isLlmWork = (r: RecordedRequest) =>
  r.method === "POST" && /\/(chat\/completions|completions|fine_tuning\/jobs)$/.test(r.path);
const requestKey = (r: RecordedRequest) => `${r.path} ${JSON.stringify(r.body ?? {})}`;

/**
 * Requests that made the model work (not polls or listings) and whose answer reached the caller, keyed by
 * everything that decides the answer, with when each arrived (ms after startedAt). A request whose caller was
 * killed before its reply was made drew no answer (the test server, like a real one, drops it): sending it again
 * is not a repeat of an answered request.
 */
function answeredLlmRequests(fake: FakeOpenAiServer, startedAt: number): Map<string, number[]> {
  const arrivals = new Map<string, number[]>();
  for (const r of fake.requests) {
    if (r.outcome !== "answered" || !isLlmWork(r)) continue;
    const key = requestKey(r);
    arrivals.set(key, [...(arrivals.get(key) ?? []), r.receivedAt - startedAt]);
  }
  return arrivals;
}

/** Answered requests of a faulted run beyond what the uninterrupted run had answered for the same key. */
export function repeatedRequests(faulted: Map<string, number>, clean: Map<string, number>): number {
  return Object.values(repeatedByModel(faulted, clean)).reduce((a, b) => a + b, 0);
}

/** The repeats by the model they asked (generation, judging or fine-tuning), to tell where they came from. */
export function repeatedByModel(faulted: Map<string, number>, clean: Map<string, number>): Record<string, number> {
  const byModel: Record<string, number> = {};
  for (const [key, n] of faulted) {
    const extra = n - (clean.get(key) ?? 0);
    if (extra <= 0) continue;
    const model = /"model":"([^"]*)"/.exec(key)?.[1] ?? "?";
    byModel[model] = (byModel[model] ?? 0) + extra;
  }
  return byModel;
}

/**
 * A SIGKILL that lands between a process receiving a model's answer and recording it loses that answer: it is
 * asked again. The records are written the moment an answer arrives (the generator keeps it under the request's
 * idempotency key, the judge caches each repeat as it is scored), so the window is one NATS KV write; a caller
 * killed later finds the record when it asks again. Such a repeat is explained when a process holding the lost
 * answer was killed after that request arrived and at most this long after its answer was sent: room for a
 * starved process on 2 busy cores.
 */
export const RECORDING_WINDOW_MS = 1000;
/** The process an answer passes through between the test server and its record. */
const holdersOf = (model: string): FaultTarget[] => (model === JUDGE_MODEL ? ["judge"] : ["generator"]);

export interface RepeatedRequest {
  model: string;
  /** When the answer that was asked again arrived, ms after start. */
  lostAnswerAtMs: number;
  /** The kill that explains it, if one does. */
  killed?: { target: FaultTarget; atMs: number };
}

/**
 * Each answered request of the faulted run beyond the undisturbed run's count, with the kill that explains it:
 * one of the processes holding the earlier answer was killed between that request's arrival and its answer's
 * recording window's end. Fine-tuning requests are never explained (a job is found by its id, not created again).
 */
export function explainRepeats(
  faulted: FaultRunResult,
  clean: FaultRunResult,
  llmLatencyMs: number,
): RepeatedRequest[] {
  const repeats: RepeatedRequest[] = [];
  for (const [key, arrivals] of faulted.llmArrivals) {
    const extra = arrivals.length - (clean.llmRequests.get(key) ?? 0);
    if (extra <= 0) continue;
    const model = /"model":"([^"]*)"/.exec(key)?.[1] ?? "?";
    const sorted = [...arrivals].sort((a, b) => a - b);
    // The last `extra` requests repeated the ones before them.
    for (const lostAnswerAtMs of sorted.slice(sorted.length - extra - 1, sorted.length - 1)) {
      const killed = key.includes("/fine_tuning/")
        ? undefined
        : faulted.kills.find(
            (k) =>
              holdersOf(model).includes(k.target) &&
              k.atMs >= lostAnswerAtMs &&
              k.atMs <= lostAnswerAtMs + llmLatencyMs + RECORDING_WINDOW_MS,
          );
      repeats.push({ model, lostAnswerAtMs, killed });
    }
  }
  return repeats;
}

/**
 * Rows with what necessarily differs between two runs left out: the adapter's job-derived id, and the split
 * manifest's hash (the manifest records its creation time and the dataset's file paths). manifestsPerDataset
 * checks the manifest within one run instead.
 */
export const comparableRows = (rows: ResultRow[]) =>
  rows
    .map((r) => ({ ...r, adapterId: r.adapterId ? "<adapter>" : "", manifestSha256: "<manifest>" }))
    .sort((a, b) => `${a.finetuneSize}/${a.criterion}`.localeCompare(`${b.finetuneSize}/${b.criterion}`));

/** How many split manifests each dataset's rows name: 1 unless a fault made the run split its data again. */
export function manifestsPerDataset(rows: ResultRow[]): Record<string, number> {
  const seen = new Map<string, Set<string>>();
  for (const r of rows) seen.set(r.dataset, (seen.get(r.dataset) ?? new Set()).add(r.manifestSha256));
  return Object.fromEntries([...seen].map(([dataset, hashes]) => [dataset, hashes.size]));
}

export async function runFaultExperiment(options: FaultRunOptions): Promise<FaultRunResult> {
  let planted: PlantedEffect | undefined;
  const fake = await startFakeOpenAiServer({
    models: [
      { id: BASE_MODEL, maxModelLen: 16_384 },
      { id: JUDGE_MODEL, maxModelLen: 16_384 },
    ],
    fineTuning: { pollsToSucceed: 2 },
    latencyMs: options.llmLatencyMs ?? 0,
    respond: (input) => planted!.respond(input),
  });
  let stack: FaultStack | undefined;
  try {
    stack = await startFaultStack({
      NODE_ENV: "test",
      AGENT_EXECUTORS: "cpu-reader,openai",
      OPENAI_BASE_URL: fake.baseUrl,
      AGENT_OPENAI_POLL_MS: "50",
      GENERATOR_OPENAI_BASE_URL: fake.baseUrl,
      JUDGE_OPENAI_BASE_URL: fake.baseUrl,
      JUDGE_MODEL,
      // A killed gateway's run is adopted by the restarted one once its lease lapses.
      GATEWAY_LEASE_TTL_MS: "2000",
    });
    const datasetDir = join(stack.dataDir, "datasets", "bioasq");
    mkdirSync(datasetDir, { recursive: true });
    planted = createPlantedEffect({
      items: plantedItems(writeSyntheticBioAsq(datasetDir, 30 + (options.evalSize ?? 10))),
      judgeModel: JUDGE_MODEL,
    });
    planted.setRun({ seed: options.seed, baseAccuracy: 0.5, lift: { hosted: 0.3, lora: 0 } });

    const experimentId = `faults-${options.seed}`;
    const gateway = () => createServiceClient(ExperimentService, stack!.url("gateway"));
    await gateway().createExperiment({
      experimentId,
      spec: {
        name: experimentId,
        datasets: [{ format: "bioasq", paths: [datasetDir] }],
        baseModels: [{ baseModel: BASE_MODEL, backend: "openai" }],
        finetuneSizes: [0, 10],
        methods: [FineTuneMethod.HOSTED],
        evalSize: options.evalSize ?? 10,
        seed: BigInt(options.seed),
        judge: { model: { baseModel: JUDGE_MODEL, backend: "openai" }, mode: ScoringMode.SINGLE, repeats: 2 },
      },
    });
    await gateway().startExperiment({ experimentId });

    const started = Date.now();
    const deadline = started + options.deadlineMs;
    const kills: FaultRunResult["kills"] = [];
    let ended: Experiment | undefined;
    let failure: Error | undefined;
    const end = waitForEnd(gateway, experimentId, deadline).then(
      (e) => {
        ended = e;
      },
      (error: Error) => {
        failure = error;
      },
    );
    for (const step of killSchedule(options.seed, options.kills)) {
      await Promise.race([end, sleep(step.delayMs)]);
      if (ended || failure) break;
      await stack.kill(step.target);
      kills.push({ target: step.target, atMs: Date.now() - started });
      await sleep(step.downMs);
      await stack.restart(step.target).catch((error: Error) => {
        throw new Error(`restarting ${step.target}: ${error.message}\n${stack!.logs.slice(-40).join("\n")}`);
      });
    }
    await end;
    if (!ended || ended.state !== ExperimentState.SUCCEEDED) {
      const how = ended ? `ended ${ExperimentState[ended.state]}: ${ended.error}` : failure?.message;
      throw new Error(
        `experiment ${experimentId} ${how}\nkills: ${JSON.stringify(kills)}\n${stack.logs.slice(-40).join("\n")}`,
      );
    }
    const { rows } = await gateway().getResults({ experimentId });
    const abandonedLlmRequests = fake.requests.filter((r) => r.outcome === "abandoned").length;
    const llmArrivals = answeredLlmRequests(fake, started);
    return {
      experiment: ended,
      rows,
      kills,
      llmRequests: new Map([...llmArrivals].map(([key, at]) => [key, at.length])),
      abandonedLlmRequests,
      llmArrivals,
      warnings: stack.logs.filter((line) => /"level":"(warn|error)"/.test(line)),
    };
  } finally {
    await stack?.stop();
    await fake.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the experiment until it leaves RUNNING (a poll survives a gateway restart; a watch would not). */
async function waitForEnd(
  gateway: () => ReturnType<typeof createServiceClient<typeof ExperimentService>>,
  experimentId: string,
  deadline: number,
): Promise<Experiment> {
  let last: Experiment | undefined;
  while (Date.now() < deadline) {
    try {
      const { experiment } = await gateway().getExperiment({ experimentId }, { timeoutMs: 3000 });
      last = experiment;
      if (experiment && experiment.state !== ExperimentState.RUNNING && experiment.state !== ExperimentState.CREATED) {
        return experiment;
      }
    } catch {
      // The gateway or NATS is down right now: the schedule restarts it.
    }
    await sleep(300);
  }
  throw new Error(
    `experiment ${experimentId} still ${last ? ExperimentState[last.state] : "unseen"} at the deadline (stage "${last?.currentStage}")`,
  );
}
