/** The protocol simulation's hosted API model: a fixed call time, starts spaced by the RPM and TPM limits. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { HostedApiModel } from "../../bench/sim/hosted-api-model.js";
import { FIGURES } from "../../bench/sim/published-figures.js";

const FACTOR = 1000;
const held = () => 0;

test("requests under the limits are answered after the call time", () => {
  const api = new HostedApiModel(FACTOR, held);
  const seconds = api.book({ promptTokens: 10, n: 1 });
  assert.equal(seconds, FIGURES.SIM_HOSTED_CALL_SECONDS.value);
  assert.equal(api.stats.throttledSeconds, 0);
});

test("a burst waits its turn: the k-th start is k shares of a minute later, by the tighter limit", () => {
  const api = new HostedApiModel(FACTOR, held);
  const call = { promptTokens: 1000, n: 10 };
  const tokens = HostedApiModel.limitTokens(call);
  assert.equal(tokens, 1000 + 10 * FIGURES.SIM_HOSTED_MAX_TOKENS.value);
  const share = Math.max(60 / FIGURES.SIM_HOSTED_RPM.value, (tokens * 60) / FIGURES.SIM_HOSTED_TPM.value);
  const answered = Array.from({ length: 100 }, () => api.book(call));
  assert.ok(Math.abs(answered[99] - (99 * share + FIGURES.SIM_HOSTED_CALL_SECONDS.value)) < 1e-9);
  // The lower bound for the same work is what this schedule took: nothing could answer them sooner.
  assert.ok(Math.abs(HostedApiModel.leastSeconds(api.stats) - answered[99]) < 1e-9);
});

test("call resolves after the call time on the sped-up clock", async () => {
  const api = new HostedApiModel(FACTOR);
  const start = performance.now();
  await api.call({ promptTokens: 10, n: 1 });
  const elapsed = performance.now() - start;
  assert.ok(elapsed >= (FIGURES.SIM_HOSTED_CALL_SECONDS.value / FACTOR) * 1000 - 1, `${elapsed} ms`);
});
