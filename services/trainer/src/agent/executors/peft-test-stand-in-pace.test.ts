/** For the protocol simulation, the stand-in holds its pretend GPU for the pool's tokens × epochs / the method's rate. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { type JobProgress, JobSchema } from "@ragtune/contracts/trainer";
import { estimateTrainingTokens } from "@ragtune/datasets";
import { ConfigError } from "@ragtune/runtime";
import {
  PEFT_TEST_STAND_IN_ENV,
  PEFT_TEST_STAND_IN_GPU_FREE_GIB_ENV,
  PEFT_TEST_STAND_IN_GPU_URL_ENV,
  PEFT_TEST_STAND_IN_PACE_ENV,
  peftTestStandInFromEnv,
} from "./peft-test-stand-in.js";

const env = (pace: string) => ({
  NODE_ENV: "test",
  [PEFT_TEST_STAND_IN_ENV]: "1",
  [PEFT_TEST_STAND_IN_PACE_ENV]: pace,
});

type StandIn = NonNullable<ReturnType<typeof peftTestStandInFromEnv>>;

/** `count` training pairs of that many characters of question, answer and (one chunk of) context. */
function pairsOf(count: number, chars: { question: number; answer: number; context?: number }) {
  return Array.from({ length: count }, (_, i) => ({
    id: `q${i}`,
    question: "q".repeat(chars.question),
    answer: "a".repeat(chars.answer),
    answers: [],
    contexts: chars.context ? [{ text: "c".repeat(chars.context) }] : [],
  }));
}

/** Runs one job on the stand-in in a scratch folder: its result, and how long it held the GPU (ms). */
async function runJob(
  standIn: StandIn,
  pairs: ReturnType<typeof pairsOf>,
  spec: { epochs: number; microBatchSize: number; method?: FineTuneMethod },
  options: { onProgress?: (progress: Partial<JobProgress>) => void; signal?: AbortSignal } = {},
) {
  const dir = await mkdtemp(join(tmpdir(), "ragtune-stand-in-pace-"));
  try {
    const started = performance.now();
    const result = await standIn.executor.run({
      job: create(JobSchema, { jobId: "j", spec: { baseModel: "m-7b", ...spec } }),
      pairs,
      trainingDataSha256: "0".repeat(64),
      workDir: dir,
      adapterDir: dir,
      signal: options.signal ?? new AbortController().signal,
      onProgress: options.onProgress ?? (() => {}),
    });
    return { result, heldMs: performance.now() - started };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("PEFT test stand-in, paced", () => {
  it("refuses a pace without both rates", () => {
    assert.throws(() => peftTestStandInFromEnv(env('{"lora": 100}')), ConfigError);
  });

  it("takes tokens × epochs / rate, QLoRA at its own rate", async () => {
    // 4 pairs of 400 characters of question, answer and context: 100 tokens each at 4 characters a token.
    const pairs = pairsOf(4, { question: 100, answer: 100, context: 200 });
    assert.equal(estimateTrainingTokens(pairs), 400);
    const standIn = peftTestStandInFromEnv(env('{"lora": 4000, "qlora": 2000}'))!;
    const held: Record<string, number> = {};
    for (const method of [FineTuneMethod.LORA, FineTuneMethod.QLORA]) {
      const { result, heldMs } = await runJob(standIn, pairs, { epochs: 2, microBatchSize: 2, method });
      held[FineTuneMethod[method]] = heldMs;
      assert.equal(result.metrics.train_tokens, 800, "400 tokens × 2 epochs");
    }
    // 800 tokens at 4000/s is 200 ms, at 2000/s 400 ms (timers may fire late, never early).
    assert.ok(held.LORA >= 195, `LoRA held ${held.LORA} ms`);
    assert.ok(held.QLORA >= 395, `QLoRA held ${held.QLORA} ms`);
  });

  it("holds for the modelled time when progress reports take time, instead of adding each step's lateness", async () => {
    // 10 steps of 40 ms (400 tokens at 1000/s over 10 steps); each progress report holds the event loop 30 ms.
    const standIn = peftTestStandInFromEnv(env('{"lora": 1000, "qlora": 1000}'))!;
    const { heldMs } = await runJob(
      standIn,
      pairsOf(10, { question: 80, answer: 80 }),
      { epochs: 1, microBatchSize: 1 },
      {
        onProgress: () => {
          const until = performance.now() + 30;
          while (performance.now() < until) {}
        },
      },
    );
    // Step by step it would be 10 × (40 + 30) = 700 ms at least; from the start, 400 ms plus the last report.
    assert.ok(heldMs >= 395 && heldMs < 600, `held ${heldMs} ms`);
  });

  it("stops holding when the job is cancelled", async () => {
    const standIn = peftTestStandInFromEnv(env('{"lora": 1, "qlora": 1}'))!;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(
      runJob(
        standIn,
        pairsOf(1, { question: 400, answer: 1 }),
        { epochs: 1, microBatchSize: 1 },
        { signal: controller.signal },
      ),
      /cancelled/,
    );
  });

  it("on a shared GPU, sends the training's work to the modelled GPU in pieces and waits for each", async () => {
    // The modelled GPU: records each piece and answers it after 20 ms, as if other work shared it.
    const pieces: number[] = [];
    const gpu = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        pieces.push(JSON.parse(body).seconds);
        setTimeout(() => response.end(), 20);
      });
    });
    await new Promise<void>((listening) => gpu.listen(0, "127.0.0.1", listening));
    const url = `http://127.0.0.1:${(gpu.address() as AddressInfo).port}/gpu`;
    const standIn = peftTestStandInFromEnv({
      ...env('{"lora": 1000, "qlora": 1000}'),
      [PEFT_TEST_STAND_IN_GPU_URL_ENV]: url,
      [PEFT_TEST_STAND_IN_GPU_FREE_GIB_ENV]: "44",
    })!;
    assert.equal(standIn.gpus[0].memoryFreeBytes, 44n * 1024n ** 3n, "the free memory it was given");
    assert.equal(standIn.gpus[0].memoryTotalBytes, 80n * 1024n ** 3n);
    // 40 steps of 100 tokens at 1000 tokens/s: 4 s of work, in pieces of 0.25 s (2 steps of 0.1 s each).
    const progress: bigint[] = [];
    try {
      const { heldMs } = await runJob(
        standIn,
        pairsOf(40, { question: 200, answer: 200 }),
        { epochs: 1, microBatchSize: 1 },
        { onProgress: (p) => progress.push(p.step ?? -1n) },
      );
      assert.equal(pieces.length, 20, "40 steps, 2 a piece");
      assert.ok(Math.abs(pieces.reduce((a, b) => a + b, 0) - 4) < 1e-9, `${pieces}`);
      assert.deepEqual(
        progress,
        Array.from({ length: 20 }, (_, i) => BigInt(2 * (i + 1))),
      );
      // Timed by the modelled GPU (20 pieces × 20 ms), not by the 4 s of work on a GPU of its own.
      assert.ok(heldMs >= 400 && heldMs < 3000, `held ${heldMs} ms`);
    } finally {
      gpu.close();
    }
  });

  it("refuses a shared GPU's free memory out of range and a GPU URL that is not one", () => {
    for (const free of ["0", "81", "lots"]) {
      assert.throws(
        () =>
          peftTestStandInFromEnv({ ...env('{"lora": 1, "qlora": 1}'), [PEFT_TEST_STAND_IN_GPU_FREE_GIB_ENV]: free }),
        (error: Error) => error instanceof ConfigError && error.message.includes(PEFT_TEST_STAND_IN_GPU_FREE_GIB_ENV),
      );
    }
    assert.throws(
      () =>
        peftTestStandInFromEnv({ ...env('{"lora": 1, "qlora": 1}'), [PEFT_TEST_STAND_IN_GPU_URL_ENV]: "not a url" }),
      ConfigError,
    );
  });
});
