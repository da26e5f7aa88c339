import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TokenLogprob } from "./judge-backend.js";
import { logprobWeightedScore } from "./logprob-weighting.js";
import { JudgeOutputError } from "./output-parsing.js";

const plain = (token: string): TokenLogprob => ({ token, logprob: -0.1, top: [{ token, logprob: -0.1 }] });

describe("logprobWeightedScore", () => {
  it("weights scale values by probability, normalised over the scale tokens, merging spacing variants", () => {
    const tokens = [
      plain("Fine"),
      plain("."),
      plain("\nScore"),
      plain(":"),
      {
        token: " 4",
        logprob: Math.log(0.5),
        top: [
          { token: " 4", logprob: Math.log(0.5) },
          { token: " 3", logprob: Math.log(0.2) },
          { token: "3", logprob: Math.log(0.1) },
          { token: " maybe", logprob: Math.log(0.2) },
        ],
      },
    ];
    const result = logprobWeightedScore("Fine.\nScore: 4", tokens);
    assert.ok(Math.abs(result.score - (0.5 * 4 + 0.3 * 3) / 0.8) < 1e-9);
    assert.ok(Math.abs(result.mass - 0.8) < 1e-9);
  });
  it("refuses missing logprobs or a score token that is not a lone value", () => {
    assert.throws(() => logprobWeightedScore("Score: 4", undefined), JudgeOutputError);
    assert.throws(() => logprobWeightedScore("Score: 4", [plain("Score: 4")]), /not a lone scale value/);
  });
});
