/**
 * The judge on llama.cpp in-process (the generator's backend) with a tiny random-weight GGUF model the test
 * writes: grammar-constrained form output always parses; a model that cannot write evaluation steps is
 * refused plainly; modes the backend cannot serve are refused, not emulated.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { RepeatStrategy, ScoringMode } from "@ragtune/contracts/judge";
import { type TinyModelDir, writeTinyModelDir } from "@ragtune/testing";
import { connectNats, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import { type ServedJudge, serveJudge } from "./support/served-judge.js";

describe("judge on llama.cpp in-process (tiny GGUF)", () => {
  let tiny: TinyModelDir;
  let nats: LocalNats;
  let handle: NatsHandle;
  let served: ServedJudge;

  before(async () => {
    tiny = await writeTinyModelDir({ prefix: "judge-llamacpp-" });
    nats = await startTestNats();
    handle = await connectNats({ url: nats.url, name: "judge-llamacpp-test" });
    served = await serveJudge(handle, {
      JUDGE_LLAMACPP_MODEL: tiny.model,
      JUDGE_LLAMACPP_MODEL_NAME: "tiny",
      // One thread: on a small shared machine more threads than free cores slow llama.cpp down by orders of magnitude.
      JUDGE_LLAMACPP_THREADS: "1",
      JUDGE_CACHE: "memory",
    });
  });
  after(async () => {
    await served?.close();
    await handle?.close();
    await nats?.stop();
    await tiny?.remove();
  });

  const item = { question: "Which organ produces insulin?", answer: "The pancreas." };

  it("scores with grammar-constrained output that always parses", async () => {
    const result = await served.client.score({
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
      served.client.score({ item, criteria: ["accuracy"], judge: { mode: ScoringMode.SINGLE, repeats: 1 } }),
      Code.FailedPrecondition,
      /could not write evaluation steps for criterion 'accuracy'/,
    );
    await expectCode(
      served.client.score({ item, judge: { mode: ScoringMode.LOGPROB_WEIGHTED } }),
      Code.FailedPrecondition,
      /returns no logprobs/,
    );
    await expectCode(
      served.client.score({ item, judge: { mode: ScoringMode.SINGLE, repeatStrategy: RepeatStrategy.SHARED_REQUEST } }),
      Code.FailedPrecondition,
      /does not support n/,
    );
  });
});
