import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TokenLogprob } from "./judge-backend.js";
import { LowScoreMassError, logprobWeightedScore } from "./logprob-weighting.js";
import { JudgeOutputError } from "./output-parsing.js";

const position = (top: Array<[string, number]>): TokenLogprob => ({
  token: top[0][0],
  logprob: Math.log(top[0][1]),
  top: top.map(([token, p]) => ({ token, logprob: Math.log(p) })),
});

describe("logprobWeightedScore (score-only form)", () => {
  it("weights the scale values at the first non-blank token, normalised over them, merging spacing variants", () => {
    const tokens = [
      { token: "\n", logprob: -0.01, top: [{ token: "\n", logprob: -0.01 }] },
      position([
        [" 4", 0.5],
        [" 3", 0.2],
        ["3", 0.1],
        [" maybe", 0.2],
      ]),
    ];
    const result = logprobWeightedScore(tokens, 0.5);
    assert.ok(Math.abs(result.score - (0.5 * 4 + 0.3 * 3) / 0.8) < 1e-9);
    assert.ok(Math.abs(result.mass - 0.8) < 1e-9);
  });

  it("fails, with the mass it found, a score position whose mass on 1..5 is below the minimum", () => {
    const tokens = [
      position([
        [" The", 0.6],
        ["4", 0.3],
        ["5", 0.1],
      ]),
    ];
    assert.throws(
      () => logprobWeightedScore(tokens, 0.5),
      (error: unknown) =>
        error instanceof LowScoreMassError &&
        Math.abs(error.mass - 0.4) < 1e-9 &&
        /is 0\.400, below the minimum 0\.5/.test(error.message),
    );
    // The same distribution passes a lower minimum, scored from the scale values alone.
    assert.ok(Math.abs(logprobWeightedScore(tokens, 0.3).score - (0.3 * 4 + 0.1 * 5) / 0.4) < 1e-9);
  });

  it("refuses missing logprobs, a blank output, and a score position without alternatives", () => {
    assert.throws(() => logprobWeightedScore(undefined, 0.5), JudgeOutputError);
    assert.throws(() => logprobWeightedScore([{ token: " ", logprob: 0, top: [] }], 0.5), /no score token/);
    assert.throws(() => logprobWeightedScore([{ token: "4", logprob: 0, top: [] }], 0.5), /no top logprobs/);
  });
});
