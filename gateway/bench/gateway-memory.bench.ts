/**
 * Gateway memory against the size of an experiment: a real gateway process (on real NATS) runs a base-model
 * experiment of 1,000 evaluation questions, and a fresh one an experiment of 10,000, from the same dataset file
 * (10,050 questions); each process's peak RSS (VmHWM) is read when its run ends. One process per size, so each
 * peak is that experiment's own and not the larger of the two. The retriever, generator and judge are test doubles
 * served over gRPC from this process (instant answers; each search returns 5 chunks of ~800 characters, like real
 * retrieval), so the gateway's own memory is what grows. Flat means the ratio of the two peaks stays near 1.
 * Beside RSS, the largest heap left after a full collection (V8's --trace-gc, set by trace-full-gc.mjs): what the
 * gateway holds, without the garbage V8 lets RSS carry between full collections, which grows with a run's length
 * and allocation rate rather than with what is kept. BENCH_GATEWAY_NODE_OPTIONS adds V8 options to the gateway
 * (e.g. --max-old-space-size=256, the heap a container's memory limit would give it).
 * Prints `BENCH gateway_memory peak_rss_mb_1k=… peak_rss_mb_10k=… ratio=… held_heap_mb_1k=… held_heap_mb_10k=…
 * held_ratio=… rss_mb_idle=…`.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { SpreadSchema } from "@ragtune/contracts/common";
import { ExperimentService, ExperimentState } from "@ragtune/contracts/gateway";
import { GeneratorService } from "@ragtune/contracts/generator";
import { CriterionScoreSchema, JudgeService, ScoreResponseSchema, ScoringMode } from "@ragtune/contracts/judge";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { createServiceClient, createServiceServer, startTestNats } from "@ragtune/runtime";
import { startLocalStack } from "../src/cli/local-stack.js";
import { stackServices } from "../src/stack.js";

const QUESTIONS = 10_050;

/** A BioASQ task-B file of n factoid questions, each with one gold snippet. */
function writeBioAsq(dir: string, n: number) {
  const questions = Array.from({ length: n }, (_, i) => {
    const doc = `http://www.ncbi.nlm.nih.gov/pubmed/${40_000_000 + i}`;
    const text = `Compound c${i} binds receptor r${i % 97} in murine models with high selectivity over twelve weeks.`;
    return {
      id: `bench${i}`,
      type: "factoid",
      body: `Which receptor does compound c${i} bind?`,
      documents: [doc],
      snippets: [{ text, document: doc, beginSection: "abstract", endSection: "abstract" }],
      ideal_answer: [`c${i} binds r${i % 97}.`],
      exact_answer: [[`r${i % 97}`]],
    };
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "bench_golden.json"), JSON.stringify({ questions }));
}

async function startDoubles() {
  const chunk = (query: string, rank: number) => `${query} `.repeat(20).slice(0, 800) + rank;
  const server = createServiceServer({
    name: "bench-doubles",
    tracing: false,
    services: [
      {
        service: RetrieverService,
        impl: {
          createCollection: async () => ({}),
          getCollectionStats: async () => ({ documentCount: 0n }),
          ingestDocuments: async (requests: AsyncIterable<unknown>) => {
            for await (const _ of requests);
            return {};
          },
          search: async (req: { query: string; topK: number }) => ({
            results: Array.from({ length: req.topK }, (_, rank) => ({
              chunk: { id: `chunk-${rank}`, text: chunk(req.query, rank) },
              score: 1 / (rank + 1),
            })),
          }),
        },
      },
      {
        service: GeneratorService,
        impl: { generate: async (req: { question: string }) => ({ answer: `answer: ${req.question}` }) },
      },
      {
        service: JudgeService,
        impl: {
          scoreBatch: async (req: { items: { itemId: string; answer: string }[]; criteria: string[] }) => ({
            results: req.items.map((item) =>
              create(ScoreResponseSchema, {
                itemId: item.itemId,
                scores: req.criteria.map((criterion) =>
                  create(CriterionScoreSchema, {
                    criterion,
                    spread: create(SpreadSchema, { n: 1, mean: 1 + (item.answer.length % 5) }),
                  }),
                ),
              }),
            ),
          }),
        },
      },
    ],
  });
  const address = await server.listen("127.0.0.1:0");
  return { server, url: `http://127.0.0.1:${address.port}` };
}

function rssMb(pid: number, field: "VmHWM" | "VmRSS"): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  return Math.round(Number(line?.replace(/\D+/g, "")) / 1024);
}

const dir = mkdtempSync(join(tmpdir(), "ragtune-gateway-memory-"));
const nats = await startTestNats();
const doubles = await startDoubles();
const dataDir = join(dir, "datasets", "bioasq");
writeBioAsq(dataDir, QUESTIONS);
/** `Mark-Compact 248.1 (278.4) -> 35.7 (72.2) MB, …`: heap used before and after a full collection. */
const FULL_GC = /Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(/;

/** A gateway process of its own (the doubles and NATS are shared), and the heap its full collections left. */
async function startGateway() {
  const heap = { held: 0, fullCollections: 0 };
  const nodeOptions = [
    process.env.NODE_OPTIONS ?? "",
    `--import ${new URL("./trace-full-gc.mjs", import.meta.url).href}`,
    process.env.BENCH_GATEWAY_NODE_OPTIONS ?? "",
  ];
  const stack = await startLocalStack({
    env: {
      ...process.env,
      NODE_OPTIONS: nodeOptions.join(" ").trim(),
      NATS_URL: nats.url,
      RETRIEVER_URL: doubles.url,
      GENERATOR_URL: doubles.url,
      JUDGE_URL: doubles.url,
      TRAINER_URL: doubles.url,
      GATEWAY_DATA_DIR: join(dir, "gateway"),
      GATEWAY_DATA_ROOTS: join(dir, "datasets"),
      RAGTUNE_LOG_LEVEL: "warn",
    },
    anyPort: true,
    services: stackServices.filter((s) => s.name === "gateway"),
    onLog: (_service, line) => {
      const fullGc = FULL_GC.exec(line);
      if (fullGc) {
        heap.held = Math.max(heap.held, Math.round(Number(fullGc[1])));
        heap.fullCollections++;
      } else if (process.env.BENCH_VERBOSE && !line.includes(" ms: Scavenge")) console.error(line);
    },
  });
  const gatewayProcess = stack.processes[0];
  return {
    stack,
    heap,
    gateway: createServiceClient(ExperimentService, gatewayProcess.url),
    pid: gatewayProcess.child.pid!,
  };
}

/**
 * Runs one experiment on a fresh gateway: its peak RSS, its RSS before the run, and the largest heap a full
 * collection left, MB.
 */
async function run(experimentId: string, evalSize: number): Promise<{ peak: number; idle: number; held: number }> {
  const { stack, heap, gateway, pid } = await startGateway();
  try {
    const idle = rssMb(pid, "VmRSS");
    const peak = await runOn(gateway, pid, experimentId, evalSize);
    console.log(
      `${experimentId}: heap held after a full collection at most ${heap.held} MB (${heap.fullCollections} full collections)`,
    );
    return { peak, idle, held: heap.held };
  } finally {
    await stack.stop();
  }
}

async function runOn(
  gateway: Client<typeof ExperimentService>,
  pid: number,
  experimentId: string,
  evalSize: number,
): Promise<number> {
  const started = Date.now();
  await gateway.createExperiment({
    experimentId,
    spec: {
      name: experimentId,
      datasets: [{ format: "bioasq", paths: [dataDir] }],
      baseModels: [{ baseModel: "bench-model", backend: "bench-double" }],
      finetuneSizes: [0],
      evalSize,
      seed: 1n,
      judge: { mode: ScoringMode.REFERENCE, repeats: 1 },
      backendConcurrency: [
        { backend: "bench-double", generate: 32 },
        { backend: "", judge: 4 },
      ],
    },
  });
  await gateway.startExperiment({ experimentId });
  // RSS seen while the dataset is prepared (loaded, split, retrieved) and while its cell answers and is judged.
  const seen = { prepare: 0, evaluate: 0 };
  for await (const { experiment } of gateway.watchExperiment({ experimentId })) {
    const evaluating = experiment!.stages.some((s) => s.stage === "generate" && s.done > 0n);
    const phase = evaluating ? "evaluate" : "prepare";
    seen[phase] = Math.max(seen[phase], rssMb(pid, "VmRSS"));
    if (experiment!.state === ExperimentState.RUNNING || experiment!.state === ExperimentState.CREATED) continue;
    if (experiment!.state !== ExperimentState.SUCCEEDED) throw new Error(`${experimentId}: ${experiment!.error}`);
  }
  const peak = rssMb(pid, "VmHWM");
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `${experimentId}: ${evalSize} questions in ${seconds} s, peak RSS ${peak} MB ` +
      `(sampled at updates: ${seen.prepare} MB preparing, ${seen.evaluate} MB evaluating)`,
  );
  return peak;
}

try {
  const small = await run("memory-1k", 1000);
  const large = await run("memory-10k", 10_000);
  const ratio = (large.peak / small.peak).toFixed(2);
  const heldRatio = (large.held / small.held).toFixed(2);
  console.log(
    `BENCH gateway_memory peak_rss_mb_1k=${small.peak} peak_rss_mb_10k=${large.peak} ratio=${ratio} ` +
      `held_heap_mb_1k=${small.held} held_heap_mb_10k=${large.held} held_ratio=${heldRatio} rss_mb_idle=${small.idle}`,
  );
} finally {
  await doubles.server.close(100);
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
