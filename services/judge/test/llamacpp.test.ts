/**
 * The judge on llama.cpp in-process (the generator's backend) with a tiny random-weight GGUF model the test
 * writes: grammar-constrained form output always parses; a model that cannot write evaluation steps is
 * refused plainly; modes the backend cannot serve are refused, not emulated.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { JudgeService, RepeatStrategy, ScoringMode } from "@ragtune/contracts/judge";
import { writeTinyLlamaGguf } from "@ragtune/generator/testing";
import {
  connectNats,
  createLogger,
  createServiceClient,
  createServiceServer,
  type LocalNats,
  loadConfig,
  type NatsHandle,
  type ServiceServer,
  startTestNats,
} from "@ragtune/runtime";
import { judgeSettings } from "../src/config.js";
import { build } from "../src/server.js";

describe("judge on llama.cpp in-process (tiny GGUF)", () => {
  let dir: string;
  let nats: LocalNats;
  let handle: NatsHandle;
  let server: ServiceServer;
  let shutdown: (() => Promise<void>) | undefined;
  let client: ReturnType<typeof createServiceClient<typeof JudgeService>>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "judge-llamacpp-"));
    await writeTinyLlamaGguf(join(dir, "tiny.gguf"));
    nats = await startTestNats();
    handle = await connectNats({ url: nats.url, name: "judge-llamacpp-test" });
    const config = loadConfig(
      judgeSettings,
      {
        JUDGE_LLAMACPP_MODEL: join(dir, "tiny.gguf"),
        JUDGE_LLAMACPP_MODEL_NAME: "tiny",
        // One thread: on a small shared machine more threads than free cores slow llama.cpp down by orders of magnitude.
        JUDGE_LLAMACPP_THREADS: "1",
        JUDGE_CACHE: "memory",
      },
      [],
    );
    const built = await build({ config, nats: handle, logger: createLogger("judge-test", { level: "error" }) });
    shutdown = built.onShutdown;
    server = createServiceServer({ name: "judge", services: built.services });
    client = createServiceClient(JudgeService, (await server.listen("127.0.0.1:0")).url);
  });
  after(async () => {
    await server?.close(100);
    await shutdown?.();
    await handle?.close();
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const item = { question: "Which organ produces insulin?", answer: "The pancreas." };

  it("scores with grammar-constrained output that always parses", async () => {
    const result = await client.score({
      item,
      criteria: ["brevity"],
      customCriteria: [
        {
          name: "brevity",
          definition: "How short the answer is.",
          anchors: [
            { score: 1, description: "long" },
            { score: 5, description: "short" },
          ],
          evaluationSteps: ["Count the words.", "Score it."],
        },
      ],
      judge: { mode: ScoringMode.SINGLE, repeats: 2 },
    });
    const score = result.scores[0];
    assert.equal(score.backend, "llamacpp");
    assert.equal(score.judgeModel, "tiny");
    assert.equal(score.failedRepeats, 0);
    for (const repeat of score.repeats) {
      assert.ok(Number.isInteger(repeat.score) && repeat.score >= 1 && repeat.score <= 5, String(repeat.score));
      assert.match(repeat.rawOutput, /\nScore: [1-5]$/);
      assert.equal(repeat.requests, 1);
    }
  });

  it("refuses a model that cannot write evaluation steps, and modes llama.cpp cannot serve", async () => {
    const expectCode = async (promise: Promise<unknown>, code: Code, message: RegExp) =>
      assert.rejects(
        promise,
        (e: unknown) => e instanceof ConnectError && e.code === code && message.test(e.rawMessage),
      );
    // Random weights write no numbered steps: after bounded attempts the call fails, nothing is made up.
    await expectCode(
      client.score({ item, criteria: ["accuracy"], judge: { mode: ScoringMode.SINGLE, repeats: 1 } }),
      Code.FailedPrecondition,
      /could not write evaluation steps for criterion 'accuracy'/,
    );
    await expectCode(
      client.score({ item, judge: { mode: ScoringMode.LOGPROB_WEIGHTED } }),
      Code.FailedPrecondition,
      /returns no logprobs/,
    );
    await expectCode(
      client.score({ item, judge: { mode: ScoringMode.SINGLE, repeatStrategy: RepeatStrategy.SHARED_REQUEST } }),
      Code.FailedPrecondition,
      /does not support n/,
    );
  });
});
