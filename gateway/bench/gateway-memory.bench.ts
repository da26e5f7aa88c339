/**
 * Gateway memory against the size of an experiment: the real gateway process (on real NATS) runs a base-model
 * experiment of 1,000 and then of 10,000 evaluation questions; its peak RSS (VmHWM) is read after each. The
 * retriever, generator and judge are test doubles served over gRPC from this process (instant answers; each
 * search returns 5 chunks of ~800 characters, like real retrieval), so the gateway's own memory is what grows.
 * Prints `BENCH gateway peak_rss_mb_1k=… peak_rss_mb_10k=… rss_mb_idle=…`.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
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
const stack = await startLocalStack({
  env: {
    ...process.env,
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
  onLog: (_service, line) => process.env.BENCH_VERBOSE && console.error(line),
});
const gatewayProcess = stack.processes[0];
const gateway = createServiceClient(ExperimentService, gatewayProcess.url);
const pid = gatewayProcess.child.pid!;

async function run(experimentId: string, evalSize: number): Promise<number> {
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
  const idle = rssMb(pid, "VmRSS");
  const peak1k = await run("memory-1k", 1000);
  const peak10k = await run("memory-10k", 10_000);
  console.log(`BENCH gateway peak_rss_mb_1k=${peak1k} peak_rss_mb_10k=${peak10k} rss_mb_idle=${idle}`);
} finally {
  await stack.stop();
  await doubles.server.close(100);
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
