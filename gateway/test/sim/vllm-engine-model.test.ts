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
