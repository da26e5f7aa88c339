/** The protocol simulation's vLLM timing model: one sequence runs at the batch-1 rate, a full batch at the full rate. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FIGURES } from "../../bench/sim/published-figures.js";
import { VllmEngineModel } from "../../bench/sim/vllm-engine-model.js";

// Fast enough that a simulated second is 0.1 ms of wall clock.
const FACTOR = 10_000;

/** A wall clock held still until released, so a batch is submitted at one instant. */
function heldClock() {
  const start = performance.now();
  let held = true;
  return {
    now: () => (held ? start : performance.now()),
    release: () => {
      held = false;
    },
  };
}

test("one request: its prefill, then one decode step per output token at the batch-1 rate", async () => {
  const engine = new VllmEngineModel(FACTOR);
  await engine.submit({ promptTokens: 2000, outputTokens: 150, adapter: "" });
  engine.close();
  const expected =
    2000 / FIGURES.SIM_PREFILL_TOKENS_PER_SECOND.value + 150 / FIGURES.SIM_DECODE_TOKENS_PER_SECOND_BATCH1.value;
  assert.ok(
    Math.abs(engine.stats.busySeconds - expected) / expected < 0.05,
    `${engine.stats.busySeconds} vs ${expected}`,
  );
});

test("a full batch decodes at the full-batch rate, far faster than one at a time", async () => {
  const clock = heldClock();
  const engine = new VllmEngineModel(FACTOR, clock.now);
  const limit = FIGURES.SIM_BATCH_LIMIT.value;
  const all = Array.from({ length: limit }, () => engine.submit({ promptTokens: 8, outputTokens: 200, adapter: "" }));
  clock.release();
  await Promise.all(all);
  engine.close();
  const decodeOnly = (limit * 200) / FIGURES.SIM_DECODE_TOKENS_PER_SECOND_FULL.value;
  const prefill = (limit * 8) / FIGURES.SIM_PREFILL_TOKENS_PER_SECOND.value;
  assert.equal(engine.stats.peakBatch, limit);
  // Prefill steps carry a decode step's fixed cost each, so allow some slack above the pure rates.
  assert.ok(engine.stats.busySeconds >= decodeOnly, `${engine.stats.busySeconds} < ${decodeOnly}`);
  assert.ok(engine.stats.busySeconds < (decodeOnly + prefill) * 1.3, `${engine.stats.busySeconds}`);
  const oneAtATime = (limit * 200) / FIGURES.SIM_DECODE_TOKENS_PER_SECOND_BATCH1.value;
  assert.ok(engine.stats.busySeconds < oneAtATime / 20);
});

test("beyond the batch limit requests wait; a new adapter stalls the engine once for its load", async () => {
  const clock = heldClock();
  const engine = new VllmEngineModel(FACTOR, clock.now);
  const limit = FIGURES.SIM_BATCH_LIMIT.value;
  const all = Array.from({ length: limit + 10 }, (_, i) =>
    engine.submit({ promptTokens: 8, outputTokens: 20, adapter: i % 2 ? "tuned-a" : "" }),
  );
  clock.release();
  await Promise.all(all);
  engine.close();
  assert.equal(engine.stats.peakBatch, limit);
  assert.equal(engine.stats.adapterLoads, 1);
  assert.ok(engine.stats.busySeconds >= FIGURES.SIM_ADAPTER_LOAD_SECONDS.value);
});

test("two servers on one GPU take turns: each runs about half as fast, the GPU's busy time counted once", async () => {
  const alone = new VllmEngineModel(FACTOR);
  await alone.submit({ promptTokens: 8, outputTokens: 400, adapter: "" });
  alone.close();
  const clock = heldClock();
  const shared = new VllmEngineModel(FACTOR, clock.now);
  // The GPU's busy time when each server's request is answered.
  const answers = ["llama", "mistral"].map((server) =>
    shared.submit({ promptTokens: 8, outputTokens: 400, adapter: "", server }).then(() => shared.stats.busySeconds),
  );
  clock.release();
  const answeredAt = await Promise.all(answers);
  shared.close();
  const servers = shared.serverStats();
  assert.deepEqual([...servers.keys()], ["llama", "mistral"]);
  const sum = [...servers.values()].reduce((total, s) => total + s.busySeconds, 0);
  assert.ok(Math.abs(shared.stats.busySeconds - sum) < 1e-9, "one step at a time on the GPU");
  for (const at of answeredAt) {
    const ratio = at / alone.stats.busySeconds;
    assert.ok(ratio > 1.9 && ratio < 2.1, `answered after ${ratio.toFixed(2)}× one request's time alone`);
  }
});

test("a fine-tune beside the engine time-slices the GPU: each at 0.45 of it while both have work, all of it alone", async () => {
  const alone = new VllmEngineModel(FACTOR);
  await alone.submit({ promptTokens: 8, outputTokens: 400, adapter: "" });
  alone.close();
  const answer = alone.stats.busySeconds;
  const clock = heldClock();
  const shared = new VllmEngineModel(FACTOR, clock.now);
  const training = shared.train(3 * answer);
  const answered = shared.submit({ promptTokens: 8, outputTokens: 400, adapter: "" });
  clock.release();
  await Promise.all([training, answered]);
  shared.close();
  const each = FIGURES.SIM_TIME_SLICE_EFFICIENCY.value / 2;
  // The answer's work at 0.45 of the GPU, training meanwhile doing as much; then the rest of training alone.
  const expected = answer / each + 2 * answer;
  const near = (a: number, b: number) => Math.abs(a - b) / b < 0.01;
  assert.ok(near(shared.gpu.occupiedSeconds, expected), `${shared.gpu.occupiedSeconds} vs ${expected}`);
  assert.ok(near(shared.gpu.trainingSeconds, 3 * answer), `${shared.gpu.trainingSeconds}`);
  assert.ok(near(shared.stats.busySeconds, answer), "the engine's work is the same, only later");
});

test("training alone has the whole GPU; an aborted fine-tune's work stops", async () => {
  const gpu = new VllmEngineModel(FACTOR);
  await gpu.train(5);
  assert.ok(Math.abs(gpu.gpu.occupiedSeconds - 5) < 0.01 && Math.abs(gpu.gpu.trainingSeconds - 5) < 0.01);
  const controller = new AbortController();
  // 10^6 simulated seconds would be 100 s of wall clock at this factor: aborted after 20 ms.
  const long = gpu.train(1e6, controller.signal);
  setTimeout(() => controller.abort(), 20);
  await long;
  gpu.close();
  assert.ok(gpu.gpu.trainingSeconds < 1e5, `${gpu.gpu.trainingSeconds}`);
});
