/**
 * The judge wired for tests and benchmarks: the real OpenAI-compatible client against the generator's local fake
 * server (answering as the fake judge), in-memory stores, and the service behind connect's in-memory transport.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { JudgeService } from "@ragtune/contracts/judge";
import { createOpenAiClient } from "@ragtune/llm";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "@ragtune/testing";
import { createOpenAiJudgeBackend } from "../../src/backends/openai-backend.js";
import { createTracedBackend } from "../../src/backends/traced-backend.js";
import { createEvaluationSteps, type FrozenSteps } from "../../src/evaluation-steps.js";
import { type CachedRepeats, createJudgeEngine, type JudgeEngine } from "../../src/judge-engine.js";
import { type JudgeEvents, JudgeServiceImpl } from "../../src/judge-service.js";

import type { JudgeBackends } from "../../src/resolved-judge.js";
import { createMemoryStore, type JsonStore } from "../../src/stores/blob-store.js";
import { createFakeJudge, type FakeJudge, type FakeJudgeOptions } from "./fake-judge.js";

export const JUDGE_MODEL = "judge-model";

export interface HarnessOptions {
  /** Run the fake judge server in a child process (benchmarks), not in this event loop. */
  separateProcess?: boolean;
  fake?: FakeJudgeOptions;
  latencyMs?: number;
  supportsN?: boolean;
  /** The fake server answers one choice whatever n asks (as llama.cpp's server does), while the judge is configured with n. */
  serverIgnoresN?: boolean;
  supportsLogprobs?: boolean;
  maxAttempts?: number;
  maxConcurrentRequests?: number;
  minScoreMass?: number;
  scores?: JsonStore<CachedRepeats>;
  events?: JudgeEvents;
}

export interface JudgeHarness {
  /** The fake judge server's API root. */
  baseUrl: string;
  rpc: ReturnType<typeof createClient<typeof JudgeService>>;
  /** Chat-completion requests the fake server received, and the most it answered at once. */
  serverStats(): Promise<{ chatRequests: number; maxInFlight: number }>;
  close(): Promise<void>;
}

/** The in-process flavour, whose fake server, judge and engine tests can reach directly. */
export interface InProcessJudgeHarness extends JudgeHarness {
  fakeJudge: FakeJudge;
  server: FakeOpenAiServer;
  engine: JudgeEngine;
  backends: JudgeBackends;
  chatRequests(): number;
}

interface FakeEndpoint {
  baseUrl: string;
  stats(): Promise<{ chatRequests: number; maxInFlight: number }>;
  close(): Promise<void>;
}

async function startFakeJudgeProcess(options: HarnessOptions): Promise<FakeEndpoint> {
  const script = fileURLToPath(new URL("./fake-judge-process.ts", import.meta.url));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", script, JSON.stringify({ latencyMs: options.latencyMs, seed: options.fake?.seed })],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const nextJson = async () => JSON.parse(String((await lines.next()).value)) as Record<string, number | string>;
  const { baseUrl } = (await nextJson()) as { baseUrl: string };
  return {
    baseUrl,
    async stats() {
      child.stdin!.write("stats\n");
      return (await nextJson()) as { chatRequests: number; maxInFlight: number };
    },
    async close() {
      const exited = new Promise((done) => child.once("exit", done));
      child.stdin!.end();
      await exited;
    },
  };
}

export async function startJudgeHarness(options: HarnessOptions & { separateProcess: true }): Promise<JudgeHarness>;
export async function startJudgeHarness(options?: HarnessOptions): Promise<InProcessJudgeHarness>;
export async function startJudgeHarness(options: HarnessOptions = {}): Promise<JudgeHarness | InProcessJudgeHarness> {
  if (options.separateProcess) {
    const endpoint = await startFakeJudgeProcess(options);
    return {
      baseUrl: endpoint.baseUrl,
      rpc: createJudgeService(endpoint.baseUrl, options).rpc,
      serverStats: endpoint.stats,
      close: endpoint.close,
    };
  }
  const fakeJudge = createFakeJudge(options.fake);
  const server = await startFakeOpenAiServer({
    respond: fakeJudge.respond,
    models: [{ id: JUDGE_MODEL, maxModelLen: 1_000_000 }],
    latencyMs: options.latencyMs ?? 0,
    ignoreN: options.serverIgnoresN,
  });
  const chatRequests = () => server.requests.filter((r) => r.path === "/v1/chat/completions").length;
  return {
    fakeJudge,
    server,
    baseUrl: server.baseUrl,
    ...createJudgeService(server.baseUrl, options),
    chatRequests,
    serverStats: async () => ({ chatRequests: chatRequests(), maxInFlight: server.maxInFlight }),
    close: () => server.close(),
  };
}

/** The judge service against an OpenAI-compatible server at `baseUrl`, with its in-memory client `rpc`. */
export function createJudgeService(baseUrl: string, options: HarnessOptions) {
  const client = createOpenAiClient({ baseUrl, maxRetries: 0, maxConcurrency: 1024 });
  // Traced as in production (src/server.ts), so tests see the spans a deployment emits.
  const backend = createTracedBackend(
    createOpenAiJudgeBackend({
      client,
      supportsN: options.supportsN ?? true,
      supportsLogprobs: options.supportsLogprobs ?? true,
    }),
  );
  const engine = createJudgeEngine({
    steps: createEvaluationSteps({ store: createMemoryStore<FrozenSteps>() }),
    cache: options.scores ?? createMemoryStore<CachedRepeats>(),
    maxAttempts: options.maxAttempts ?? 3,
    maxConcurrentRequests: options.maxConcurrentRequests ?? 1024,
    minScoreMass: options.minScoreMass,
  });
  const backends: JudgeBackends = {
    backends: new Map([[backend.name, backend]]),
    defaultBackend: backend.name,
    defaultModel: JUDGE_MODEL,
  };
  const impl = new JudgeServiceImpl({ engine, backends, events: options.events });
  const rpc = createClient(
    JudgeService,
    createRouterTransport(({ service }) => service(JudgeService, impl)),
  );
  return { rpc, impl, engine, backends };
}
