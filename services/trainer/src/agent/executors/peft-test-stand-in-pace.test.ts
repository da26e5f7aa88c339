/** For the protocol simulation, the stand-in holds its pretend GPU for the pool's tokens × epochs / the method's rate. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { JobSchema } from "@ragtune/contracts/trainer";
import { ConfigError } from "@ragtune/runtime";
import {
  estimatePoolTokens,
  PEFT_TEST_STAND_IN_ENV,
  PEFT_TEST_STAND_IN_PACE_ENV,
  peftTestStandInFromEnv,
} from "./peft-test-stand-in.js";

const env = (pace: string) => ({
  NODE_ENV: "test",
  [PEFT_TEST_STAND_IN_ENV]: "1",
  [PEFT_TEST_STAND_IN_PACE_ENV]: pace,
});

describe("PEFT test stand-in, paced", () => {
  it("refuses a pace without both rates", () => {
    assert.throws(() => peftTestStandInFromEnv(env('{"lora": 100}')), ConfigError);
  });

  it("takes tokens × epochs / rate, QLoRA at its own rate", async () => {
    // 4 pairs of 400 characters of question, answer and context: 100 tokens each at 4 characters a token.
    const pairs = Array.from({ length: 4 }, (_, i) => ({
      id: `q${i}`,
      question: "q".repeat(100),
      answer: "a".repeat(100),
      answers: [],
      contexts: [{ text: "c".repeat(200) }],
    }));
    assert.equal(estimatePoolTokens(pairs), 400);
    const standIn = peftTestStandInFromEnv(env('{"lora": 4000, "qlora": 2000}'))!;
    const dir = await mkdtemp(join(tmpdir(), "ragtune-stand-in-pace-"));
    try {
      const held: Record<string, number> = {};
      for (const method of [FineTuneMethod.LORA, FineTuneMethod.QLORA]) {
        const job = create(JobSchema, {
          jobId: "j",
          spec: { baseModel: "m-7b", epochs: 2, microBatchSize: 2, method },
        });
        const started = performance.now();
        const result = await standIn.executor.run({
          job,
          pairs,
          trainingDataSha256: "0".repeat(64),
          workDir: dir,
          adapterDir: dir,
          signal: new AbortController().signal,
          onProgress: () => {},
        });
        held[FineTuneMethod[method]] = performance.now() - started;
        assert.equal(result.metrics.train_tokens, 800, "400 tokens × 2 epochs");
      }
      // 800 tokens at 4000/s is 200 ms, at 2000/s 400 ms (timers may fire late, never early).
      assert.ok(held.LORA >= 195, `LoRA held ${held.LORA} ms`);
      assert.ok(held.QLORA >= 395, `QLoRA held ${held.QLORA} ms`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("holds for the modelled time when progress reports take time, instead of adding each step's lateness", async () => {
    // 10 steps of 40 ms (400 tokens at 1000/s over 10 steps); each progress report holds the event loop 30 ms.
    const standIn = peftTestStandInFromEnv(env('{"lora": 1000, "qlora": 1000}'))!;
    const pairs = Array.from({ length: 10 }, (_, i) => ({
      id: `q${i}`,
      question: "q".repeat(80),
      answer: "a".repeat(80),
      answers: [],
      contexts: [],
    }));
    const dir = await mkdtemp(join(tmpdir(), "ragtune-stand-in-pace-"));
    try {
      const started = performance.now();
      await standIn.executor.run({
        job: create(JobSchema, { jobId: "j", spec: { baseModel: "m-7b", epochs: 1, microBatchSize: 1 } }),
        pairs,
        trainingDataSha256: "0".repeat(64),
        workDir: dir,
        adapterDir: dir,
        signal: new AbortController().signal,
        onProgress: () => {
          const until = performance.now() + 30;
          while (performance.now() < until) {}
        },
      });
      const held = performance.now() - started;
      // Step by step it would be 10 × (40 + 30) = 700 ms at least; from the start, 400 ms plus the last report.
      assert.ok(held >= 395 && held < 600, `held ${held} ms`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("stops holding when the job is cancelled", async () => {
    const standIn = peftTestStandInFromEnv(env('{"lora": 1, "qlora": 1}'))!;
    const controller = new AbortController();
    const pair = { id: "q", question: "q".repeat(400), answer: "a", answers: [], contexts: [] };
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(
      standIn.executor.run({
        job: create(JobSchema, { jobId: "j", spec: { baseModel: "m", epochs: 1, microBatchSize: 1 } }),
        pairs: [pair],
        trainingDataSha256: "0".repeat(64),
        workDir: tmpdir(),
        adapterDir: tmpdir(),
        signal: controller.signal,
        onProgress: () => {},
      }),
      /cancelled/,
    );
  });
});
