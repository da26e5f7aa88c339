/**
 * End to end across processes: `src/main.ts` as its own process, configured by env only, with a nats-server of
 * the test's own and the fake judge model over HTTP; called over gRPC; stopped with SIGTERM.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { JudgeService, RepeatStrategy, ScoringMode } from "@ragtune/contracts/judge";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "@ragtune/testing";
import { createServiceClient, type LocalNats, startTestNats } from "@ragtune/runtime";
import { createFakeJudge } from "./support/fake-judge.js";

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

describe("judge process", () => {
  let nats: LocalNats;
  let fake: FakeOpenAiServer;
  let child: ChildProcess;
  let url: string;
  let stderr = "";

  before(async () => {
    nats = await startTestNats();
    fake = await startFakeOpenAiServer({
      respond: createFakeJudge().respond,
      models: [{ id: "judge-model", maxModelLen: 1_000_000 }],
    });
    child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: packageRoot,
      env: {
        ...process.env,
        NATS_URL: nats.url,
        JUDGE_ADDR: "127.0.0.1:0",
        JUDGE_OPENAI_BASE_URL: fake.baseUrl,
        JUDGE_OPENAI_API_KEY: "sk-test-secret",
        JUDGE_MODEL: "judge-model",
        RAGTUNE_LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    for await (const line of createInterface({ input: child.stdout! })) {
      const parsed = JSON.parse(line) as { event?: string; url?: string };
      if (parsed.event === "listening" && parsed.url) {
        url = parsed.url;
        break;
      }
    }
    assert.ok(url, `no listening line; stderr: ${stderr}`);
  });
  after(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await fake.close();
    await nats.stop();
  });

  it("serves Score over gRPC, masks the API key in its logs and stops cleanly on SIGTERM", async () => {
    const client = createServiceClient(JudgeService, url);
    const result = await client.score({
      item: { question: "Capital of France?", answer: "Paris", referenceAnswer: "Paris" },
      judge: { mode: ScoringMode.SINGLE, repeats: 5, repeatStrategy: RepeatStrategy.SHARED_REQUEST },
    });
    assert.deepEqual(
      result.scores.map((s) => s.spread?.n),
      [5, 5],
    );
    assert.ok(!stderr.includes("sk-test-secret"), "the API key never reaches the logs");
    assert.match(stderr, /"JUDGE_OPENAI_API_KEY":"\*\*\*\*"/);
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
  });
});
