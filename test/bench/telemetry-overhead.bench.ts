/**
 * What tracing and metrics cost an experiment: the same experiment (a base and a LoRA cell on the PEFT test
 * stand-in, 100 evaluation questions, G-Eval judge R=3 on 2 criteria, every model played by the OpenAI-compatible
 * test server with a fixed 20 ms latency) runs on a stack with telemetry off and on a stack exporting traces and
 * metrics over OTLP to an in-process receiver (metrics every second). Both stacks live side by side for the whole
 * run and take turns: after one unmeasured warm-up experiment each, every round runs the same experiment (same
 * seed) on both, in the order off/on, then on/off in the next round (so a load that rises or falls through a round
 * weighs on both sides alike), and gives one ratio on/off. The machine's load moves walls by more than telemetry
 * does, so the figure is the median of the rounds' ratios, not a difference of two single runs.
 * Beside the walls, each run's CPU time of the stack's processes (and their children; /proc) is compared the same
 * way: load inflates CPU seconds far less than it inflates walls, so it shows what telemetry costs when the walls'
 * spread hides it. The OTLP receiver (the collector's stand-in, in this process) is left out of it.
 * Prints every pair with the load average and `BENCH telemetry overhead_pct=<(median wall ratio - 1) × 100>
 * cpu_overhead_pct=<same for CPU seconds>` (target ≤ 5). TELEMETRY_ROUNDS sets the rounds (default 9).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
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
  /** The stack's service processes, whose CPU (with their descendants') a run is charged. */
  pids: number[];
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
    pids: stack.processes.map((p) => p.child.pid).filter((pid): pid is number => pid !== undefined),
    gateway: createServiceClient(ExperimentService, url),
    dataset,
    async stop() {
      await stack.stop();
      await nats.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/**
 * CPU seconds (user + system) so far of the given processes and every live descendant, from /proc, with what their
 * ended-and-reaped children used (cutime, cstime), so a short-lived helper process still counts.
 */
function treeCpuSeconds(roots: readonly number[]): number {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command (which may hold spaces) start at the last ")": state, ppid, …, utime (14),
      // stime (15), cutime (16), cstime (17).
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      stats.set(Number(entry), { ppid: Number(fields[1]), ticks });
    } catch {
      // The process ended between listing and reading.
    }
  }
  const inTree = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, { ppid }] of stats)
      if (!inTree.has(pid) && inTree.has(ppid)) {
        inTree.add(pid);
        grew = true;
      }
  }
  let ticks = 0;
  for (const pid of inTree) ticks += stats.get(pid)?.ticks ?? 0;
  return ticks / CLOCK_TICKS;
}

async function runOnce(side: Side, round: number): Promise<{ wall: number; cpu: number }> {
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
      // The same seed on both sides of a round: the same split, questions and work.
      seed: BigInt(round),
      judge: { model: { baseModel: JUDGE, backend: "openai" }, mode: ScoringMode.SINGLE, repeats: 3 },
    },
  });
  const cpuBefore = treeCpuSeconds(side.pids);
  const started = performance.now();
  await side.gateway.startExperiment({ experimentId });
  let state = ExperimentState.RUNNING;
  for await (const update of side.gateway.watchExperiment({ experimentId }, { timeoutMs: 600_000 })) {
    state = update.experiment?.state ?? state;
  }
  const wall = (performance.now() - started) / 1000;
  const cpu = treeCpuSeconds(side.pids) - cpuBefore;
  if (state !== ExperimentState.SUCCEEDED) throw new Error(`${experimentId} ended ${ExperimentState[state]}`);
  return { wall, cpu };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const rounds = Number(process.env.TELEMETRY_ROUNDS ?? 9);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`TELEMETRY_ROUNDS must be an integer >= 1, got ${rounds}`);
const loadAtStart = loadavg()[0];
const [off, on] = [
  await startSide("off", {}),
  await startSide("on", {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "1000",
    OTEL_BSP_SCHEDULE_DELAY: "500",
  }),
];
try {
  // Warm-up: JIT, connection pools, the first dataset preparation; not counted.
  const warm = [await runOnce(off, 0), await runOnce(on, 0)];
  console.log(`warm-up: off ${warm[0].wall.toFixed(2)} s, on ${warm[1].wall.toFixed(2)} s (not counted)`);
  const wallRatios: number[] = [];
  const cpuRatios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? [off, on] : [on, off];
    const run: Record<string, { wall: number; cpu: number }> = {};
    for (const side of order) run[side.label] = await runOnce(side, round);
    wallRatios.push(run.on.wall / run.off.wall);
    cpuRatios.push(run.on.cpu / run.off.cpu);
    console.log(
      `  round ${round} (${order.map((s) => s.label).join(" then ")}): wall off ${run.off.wall.toFixed(2)} s, on ${run.on.wall.toFixed(2)} s, on/off ${(run.on.wall / run.off.wall).toFixed(3)}; stack CPU off ${run.off.cpu.toFixed(2)} s, on ${run.on.cpu.toFixed(2)} s, on/off ${(run.on.cpu / run.off.cpu).toFixed(3)}; load average ${loadavg()[0].toFixed(1)}`,
    );
  }
  const spans = receiver.spans.length;
  console.log(
    `exported while on: ${spans} spans, ${receiver.metrics.length} metric points ` +
      `(${new Set(receiver.metrics.map((m) => m.name)).size} metrics)`,
  );
  if (spans === 0) throw new Error("the telemetry-on stack exported no spans: the comparison would measure nothing");
  const pct = (ratio: number) => ((ratio - 1) * 100).toFixed(1);
  const range = (ratios: number[]) => `${pct(Math.min(...ratios))}..${pct(Math.max(...ratios))}`;
  console.log(
    `on/off over ${rounds} rounds: wall median ${median(wallRatios).toFixed(3)} (overhead range ${range(wallRatios)} %), ` +
      `stack CPU median ${median(cpuRatios).toFixed(3)} (range ${range(cpuRatios)} %)`,
  );
  console.log(
    `BENCH telemetry overhead_pct=${pct(median(wallRatios))} cpu_overhead_pct=${pct(median(cpuRatios))} rounds=${rounds} wall_range_pct=${range(wallRatios)} cpu_range_pct=${range(cpuRatios)} load_average_start=${loadAtStart.toFixed(1)} load_average_end=${loadavg()[0].toFixed(1)} (target overhead_pct <= 5)`,
  );
} finally {
  for (const side of [off, on]) await side.stop();
  await receiver.close();
  await fake.close();
}
