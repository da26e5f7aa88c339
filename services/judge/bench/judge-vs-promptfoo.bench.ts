/**
 * ragtune's judge against promptfoo's g-eval assertion, side by side in one run, on the same OpenAI-compatible
 * test server (its own process, fixed latency, honours n): 200 answers, 2 criteria, R = 10 repeats.
 *
 * - ours: ScoreBatch over gRPC (a real socket), SCORING_MODE_SINGLE with the default repeat strategy (the R
 *   repeats of a criterion share one request with n = R); evaluation steps are written once per criterion.
 * - theirs: promptfoo's `g-eval` assertion (`assertions.runAssertion`, which calls its matchesGEval) run R times per
 *   answer and criterion (it has no repeats),
 *   with its response cache off, since cached calls would return one output R times rather than R samples.
 *   promptfoo is not a dependency of the project: the bench installs the pinned version on demand into a cache
 *   folder (RAGTUNE_BENCH_CACHE, default <tmpdir>/ragtune-bench-cache) and says so when it cannot.
 *
 * Both keep at most CONCURRENCY requests in flight. Prints
 * `BENCH judge_vs_promptfoo requests_per_answer=<ours>/<theirs> wall_s=<ours>/<theirs>`.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { JudgeService, ScoringMode } from "@ragtune/contracts/judge";
import { createServiceClient, createServiceServer } from "@ragtune/runtime";
import { createJudgeService } from "../test/support/judge-harness.js";

const PROMPTFOO_VERSION = "0.123.1";
const ANSWERS = 200;
const REPEATS = 10;
const LATENCY_MS = 100;
const CONCURRENCY = 32;
const CRITERIA = {
  accuracy:
    "Accuracy: the answer is relevant to the question, supported by enough evidence, and contains nothing irrelevant or misleading.",
  completeness: "Completeness: the answer covers the topics and details the question asks for.",
};

const items = Array.from({ length: ANSWERS }, (_, i) => ({
  itemId: `a${i}`,
  question: `Which organ produces insulin? (${i})`,
  answer: ["The pancreas produces insulin.", "The liver.", "Beta cells of the pancreas.", "I am not sure."][i % 4],
  referenceAnswer: "The pancreas (beta cells of the islets of Langerhans)",
}));

/** CPU seconds this process (the judge under test and its caller) used since `from`: comparable under load. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
}

async function startServer() {
  const script = fileURLToPath(new URL("./support/geval-server-process.ts", import.meta.url));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", script, JSON.stringify({ latencyMs: LATENCY_MS, seed: 3 })],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;
  const { baseUrl } = (await next()) as { baseUrl: string };
  return {
    baseUrl,
    async chatRequests() {
      child.stdin!.write("stats\n");
      return (await next()).chatRequests as number;
    },
    async close() {
      const exited = new Promise((done) => child.once("exit", done));
      child.stdin!.end();
      await exited;
    },
  };
}

/** promptfoo's node API from the cache folder, installed there first if missing; or why it is unavailable. */
async function loadPromptfoo(): Promise<{ api?: Record<string, any>; reason?: string }> {
  const cache = join(process.env.RAGTUNE_BENCH_CACHE ?? join(tmpdir(), "ragtune-bench-cache"), "promptfoo");
  const manifest = join(cache, "node_modules", "promptfoo", "package.json");
  const installed = () =>
    existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).version === PROMPTFOO_VERSION;
  if (!installed()) {
    mkdirSync(cache, { recursive: true });
    console.log(`installing promptfoo@${PROMPTFOO_VERSION} into ${cache} (not a project dependency) ...`);
    const npm = spawnSync(
      "npm",
      ["install", "--prefix", cache, "--no-audit", "--no-fund", "--loglevel=error", `promptfoo@${PROMPTFOO_VERSION}`],
      { encoding: "utf8", timeout: 600_000 },
    );
    if (npm.status !== 0 || !installed()) {
      return {
        reason: `npm install promptfoo@${PROMPTFOO_VERSION} failed: ${(npm.stderr || String(npm.error)).trim().slice(-300)}`,
      };
    }
  }
  // No telemetry, update checks or files in the home folder; its response cache off (see above).
  Object.assign(process.env, {
    PROMPTFOO_DISABLE_TELEMETRY: "1",
    PROMPTFOO_DISABLE_UPDATE: "1",
    PROMPTFOO_CACHE_ENABLED: "false",
    PROMPTFOO_CONFIG_DIR: join(cache, "config"),
  });
  try {
    const api = await import(pathToFileURL(join(cache, "node_modules", "promptfoo", "dist", "src", "index.js")).href);
    api.cache?.disableCache?.();
    return { api };
  } catch (error) {
    return { reason: `promptfoo@${PROMPTFOO_VERSION} did not load: ${(error as Error).message.slice(0, 300)}` };
  }
}

async function runOurs(baseUrl: string, count: () => Promise<number>) {
  const { impl } = createJudgeService(baseUrl, { maxConcurrentRequests: CONCURRENCY });
  const server = createServiceServer({ name: "judge", services: [{ service: JudgeService, impl }] });
  const { url } = await server.listen("127.0.0.1:0");
  try {
    const client = createServiceClient(JudgeService, url);
    const before = await count();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const { results } = await client.scoreBatch({
      items,
      judge: { mode: ScoringMode.SINGLE, repeats: REPEATS },
      concurrency: CONCURRENCY,
    });
    const wall = (performance.now() - started) / 1000;
    const cpuS = cpuSeconds(cpu);
    const requests = (await count()) - before;
    const scores = results.flatMap((r) => r.scores);
    const repeats = scores.reduce((sum, s) => sum + s.spread!.n, 0);
    const strategies = [...new Set(scores.map((s) => s.repeatStrategyReason))];
    return { requests, wall, cpuS, repeats, strategies };
  } finally {
    await server.close(100);
  }
}

async function runTheirs(api: Record<string, any>, baseUrl: string, count: () => Promise<number>) {
  const provider = {
    id: "openai:chat:judge-model",
    config: { apiBaseUrl: baseUrl, apiKey: "bench", temperature: 1 },
  };
  const calls = items.flatMap((item) =>
    Object.values(CRITERIA).flatMap((criteria) => Array.from({ length: REPEATS }, () => ({ item, criteria }))),
  );
  const before = await count();
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  let scored = 0;
  let failed = 0;
  let firstFailure = "";
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < calls.length) {
        const { item, criteria } = calls[next++];
        // The g-eval assertion as a promptfoo test runs it: one matchesGEval (steps, then the score) per call.
        const result = await api.assertions.runAssertion({
          prompt: item.question,
          assertion: { type: "g-eval", value: criteria, threshold: 0.5 },
          test: { vars: {}, options: { provider } },
          providerResponse: { output: item.answer },
        });
        if (
          typeof result.score === "number" &&
          !/G-Eval|not in JSON|returned no output|error/i.test(result.reason ?? "")
        ) {
          scored++;
        } else {
          failed++;
          firstFailure ||= String(result.reason).slice(0, 200);
        }
      }
    }),
  );
  const wall = (performance.now() - started) / 1000;
  const cpuS = cpuSeconds(cpu);
  const requests = (await count()) - before;
  return { requests, wall, cpuS, scored, failed, firstFailure };
}

const server = await startServer();
try {
  console.log(`machine: ${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(1)} at start`);
  console.log(
    `test server: fixed latency ${LATENCY_MS} ms, honours n; ${ANSWERS} answers × 2 criteria × R=${REPEATS}; at most ${CONCURRENCY} requests in flight each`,
  );
  const ours = await runOurs(server.baseUrl, server.chatRequests);
  console.log(
    `ragtune judge (gRPC ScoreBatch, SINGLE): ${ours.requests} requests (2 of them writing the frozen steps), ${ours.repeats} repeats scored, ${ours.wall.toFixed(2)} s wall, ${ours.cpuS.toFixed(2)} s CPU; strategy: ${ours.strategies.join("; ")}`,
  );
  const promptfoo = await loadPromptfoo();
  const oursPerAnswer = (ours.requests / ANSWERS).toFixed(2);
  if (!promptfoo.api) {
    console.log(`promptfoo: not measured: ${promptfoo.reason}`);
    console.log(
      `BENCH judge_vs_promptfoo requests_per_answer=${oursPerAnswer}/unavailable wall_s=${ours.wall.toFixed(2)}/unavailable`,
    );
  } else {
    const theirs = await runTheirs(promptfoo.api, server.baseUrl, server.chatRequests);
    console.log(
      `promptfoo@${PROMPTFOO_VERSION} g-eval assertion × R (cache off): ${theirs.requests} requests (each call writes its steps, then scores), ${theirs.scored} scored, ${theirs.failed} failed${theirs.firstFailure ? ` (first: ${theirs.firstFailure})` : ""}, ${theirs.wall.toFixed(2)} s wall, ${theirs.cpuS.toFixed(2)} s CPU`,
    );
    console.log(
      `BENCH judge_vs_promptfoo requests_per_answer=${oursPerAnswer}/${(theirs.requests / ANSWERS).toFixed(2)} wall_s=${ours.wall.toFixed(2)}/${theirs.wall.toFixed(2)}`,
    );
  }
} finally {
  await server.close();
}
process.exit(0);
