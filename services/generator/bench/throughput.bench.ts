/**
 * Throughput and the generator's own overhead against an OpenAI-compatible backend of fixed latency, at
 * concurrency 32 (the backend's limit): ideal throughput is 32 / latency; the service should reach >= 0.95 of it.
 */
import { spawn } from "node:child_process";
import * as os from "node:os";
import { createInterface } from "node:readline";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { GeneratorService } from "@ragtune/contracts/generator";
import { createServiceClient } from "@ragtune/runtime";
import { createOpenAiBackend } from "../src/backends/openai-backend.js";
import { GeneratorServiceImpl } from "../src/generator-service.js";
import { createOpenAiClient } from "@ragtune/llm";

const CONCURRENCY = 32;
/** Rounds of each gRPC row (GENERATOR_BENCH_ROUNDS, default 3); the median counts. */
const ROUNDS = Number(process.env.GENERATOR_BENCH_ROUNDS ?? 3);

/** The round of median throughput. */
function medianByThroughput<T extends { throughput: number }>(rounds: T[]): T {
  return [...rounds].sort((a, b) => a.throughput - b.throughput)[Math.floor(rounds.length / 2)];
}

/** Starts a bench helper process and reads the JSON line it prints once it listens. */
async function startProcess(script: string, args: string[], nodeFlags: string[] = []) {
  const child = spawn(
    process.execPath,
    [...nodeFlags, "--import", "tsx", new URL(script, import.meta.url).pathname, ...args],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse(String((await lines.next()).value)) as Record<string, string>;
  const info = await next();
  return {
    info,
    /** The process's CPU time so far, ms (generator-process.ts answers it). */
    async cpuMs() {
      child.stdin!.write("cpu\n");
      return Number((await next()).cpuMicros) / 1000;
    },
    stop: () => child.kill("SIGTERM"),
  };
}

const contexts = Array.from({ length: 5 }, (_, i) => ({
  text: `Chunk ${i}: ${"The Orrin Canal links the river Velan with the sea and is 41 kilometres long. ".repeat(15)}`,
  sourceId: `doc-${i}`,
}));

type Generate = (i: number) => Promise<unknown>;

async function drive(generate: Generate, requests: number, concurrency: number) {
  let next = 0;
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next++;
        const t = performance.now();
        await generate(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  return {
    throughput: requests / seconds,
    /** CPU of this (the calling) process per request, ms: what the HTTP path costs here, load aside. */
    cpuMs: (used.user + used.system) / 1000 / requests,
    meanMs: latencies.reduce((s, x) => s + x, 0) / latencies.length,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)],
    p99Ms: latencies[Math.floor(latencies.length * 0.99)],
  };
}

async function measure(latencyMs: number, requests: number) {
  const fake = await startProcess("./support/fake-server-process.ts", [String(latencyMs)]);
  const baseUrl = fake.info.baseUrl;
  // GENERATOR_BENCH_PROFILE_DIR=<dir>: a V8 CPU profile of the generator process (node --cpu-prof) for that row.
  const profileDir = process.env.GENERATOR_BENCH_PROFILE_DIR;
  const profile = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const generator = await startProcess("./support/generator-process.ts", [baseUrl, String(CONCURRENCY)], profile);
  // The same service with the runtime server's unary fast path off: connect's handler, the server path before.
  const generatorConnect = await startProcess("./support/generator-process.ts", [
    baseUrl,
    String(CONCURRENCY),
    "connect-handler",
  ]);
  try {
    const request = (i: number) => ({
      question: `How long is the Orrin Canal? (${i})`,
      contexts,
      model: { baseModel: "bench-model" },
      sampling: { maxTokens: 16 },
    });
    const ideal = CONCURRENCY / (latencyMs / 1000);
    const warm = Math.min(200, requests / 5);

    // The raw client alone: the floor of what the HTTP path costs, without the service.
    const raw = createOpenAiClient({ baseUrl, maxConcurrency: CONCURRENCY });
    const ask = (i: number) =>
      raw.chatCompletion({ model: "bench-model", messages: [{ role: "user", content: `q ${i}` }], max_tokens: 16 });
    await drive(ask, warm, CONCURRENCY);
    const clientOnly = await drive(ask, requests, CONCURRENCY);

    // The same request on global fetch (undici), the client's transport before it moved to node:http: the before.
    const fetchAsk = async (i: number) => {
      const response = await fetch(`${baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "bench-model", messages: [{ role: "user", content: `q ${i}` }], max_tokens: 16 }),
      });
      return JSON.parse(await response.text());
    };
    await drive(fetchAsk, warm, CONCURRENCY);
    const fetchOnly = await drive(fetchAsk, requests, CONCURRENCY);

    const impl = new GeneratorServiceImpl({
      defaultBackend: "openai",
      backends: [createOpenAiBackend({ client: createOpenAiClient({ baseUrl, maxConcurrency: CONCURRENCY }) })],
    });
    const inMemory = createClient(
      GeneratorService,
      createRouterTransport((router) => router.service(GeneratorService, impl)),
    );
    await drive((i) => inMemory.generate(request(i)), warm, CONCURRENCY);
    const serviceInMemory = await drive((i) => inMemory.generate(request(i)), requests, CONCURRENCY);

    /** Drives a generator process over gRPC; also its CPU per request, ms. */
    const overGrpc = async (process: typeof generator) => {
      const grpc = createServiceClient(GeneratorService, process.info.url);
      await drive((i) => grpc.generate(request(i)), warm, CONCURRENCY);
      const cpuBefore = await process.cpuMs();
      const result = await drive((i) => grpc.generate(request(i)), requests, CONCURRENCY);
      return { ...result, processCpuMs: ((await process.cpuMs()) - cpuBefore) / requests };
    };
    // Before (connect's handler) and after (the fast path) take turns, ROUNDS times each; the median round of
    // each counts, so that a burst of other jobs on the machine lands on both rather than on one.
    const connectRounds: Array<Awaited<ReturnType<typeof overGrpc>>> = [];
    const fastRounds: Array<Awaited<ReturnType<typeof overGrpc>>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      connectRounds.push(await overGrpc(generatorConnect));
      fastRounds.push(await overGrpc(generator));
    }
    const connectHandler = medianByThroughput(connectRounds);
    const serviceGrpc = medianByThroughput(fastRounds);
    const roundRatios = (rounds: typeof fastRounds) => rounds.map((r) => (r.throughput / ideal).toFixed(3)).join(", ");
    const generatorCpuMs = serviceGrpc.processCpuMs;

    const row = (name: string, r: Awaited<ReturnType<typeof drive>>) =>
      `  ${name.padEnd(44)} ${r.throughput.toFixed(1).padStart(7)} /s  ratio ${(r.throughput / ideal).toFixed(3)}  mean ${r.meanMs.toFixed(1)} ms  p99 ${r.p99Ms.toFixed(1)} ms  overhead ${(r.meanMs - latencyMs).toFixed(2)} ms/request  caller CPU ${r.cpuMs.toFixed(3)} ms/request`;
    console.log(
      `backend latency ${latencyMs} ms, concurrency ${CONCURRENCY}, ${requests} requests: ideal ${ideal.toFixed(1)} answers/s`,
    );
    console.log(row("bare fetch (client transport before)", fetchOnly));
    console.log(row("OpenAI client alone (lean HTTP/1.1)", clientOnly));
    console.log(row("service, in-memory transport", serviceInMemory));
    console.log(
      `${row("service over gRPC, connect's handler (before)", connectHandler)}  generator process CPU ${connectHandler.processCpuMs.toFixed(3)} ms/request`,
    );
    console.log(
      `${row("service process over gRPC (HTTP/2 socket)", serviceGrpc)}  generator process CPU ${generatorCpuMs.toFixed(3)} ms/request`,
    );
    console.log(
      `  gRPC rounds (achieved/ideal), connect's handler: ${roundRatios(connectRounds)}; fast path: ${roundRatios(fastRounds)}`,
    );
    const ratio = serviceGrpc.throughput / ideal;
    console.log(
      `  achieved/ideal over gRPC: ${ratio.toFixed(3)} (target >= 0.95: ${ratio >= 0.95 ? "met" : "NOT met"})`,
    );
    const at = `${latencyMs}ms`;
    console.log(
      `BENCH generator achieved_ideal_grpc_${at}=${ratio.toFixed(3)} client_alone_${at}=${(clientOnly.throughput / ideal).toFixed(3)} fetch_alone_${at}=${(fetchOnly.throughput / ideal).toFixed(3)} connect_handler_grpc_${at}=${(connectHandler.throughput / ideal).toFixed(3)} client_cpu_ms=${clientOnly.cpuMs.toFixed(3)} fetch_cpu_ms=${fetchOnly.cpuMs.toFixed(3)} generator_cpu_ms=${generatorCpuMs.toFixed(3)} connect_handler_cpu_ms=${connectHandler.processCpuMs.toFixed(3)} rounds=${ROUNDS} load_average=${os.loadavg()[0].toFixed(1)}`,
    );
  } finally {
    generator.stop();
    generatorConnect.stop();
    fake.stop();
  }
}

console.log(
  `machine: ${os.availableParallelism()} CPUs, load average ${os.loadavg()[0].toFixed(1)} at start; fake backend, generator and load driver are three processes`,
);
// GENERATOR_BENCH_LATENCIES picks rows, e.g. "50" (default all three).
const rows: Array<[number, number]> = [
  [1000, 320],
  [200, 1000],
  [50, 2000],
];
const picked = (process.env.GENERATOR_BENCH_LATENCIES ?? "").split(",").filter(Boolean).map(Number);
for (const [latencyMs, requests] of rows) {
  if (picked.length === 0 || picked.includes(latencyMs)) await measure(latencyMs, requests);
}
