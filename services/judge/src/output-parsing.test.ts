import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { JudgeOutputError, parseEvaluationSteps, parseFormOutput } from "./output-parsing.js";

describe("parseFormOutput", () => {
  it("reads the score from the last line and keeps the rationale", () => {
    assert.deepEqual(parseFormOutput("Rationale: relevant and supported.\nScore: 4"), {
      score: 4,
      rationale: "relevant and supported.",
    });
    assert.equal(parseFormOutput("ok\n**Score:** 5\n").score, 5);
  });
  for (const [raw, why] of [
    ["Score: 7", /outside the scale/],
    ["Score: 0", /outside the scale/],
    ["Score: 3.5", /not an integer/],
    ["I would give it a 4.", /last line/],
    ["Score: 4\nThanks!", /last line/],
    ["", /last line/],
  ] as const) {
    it(`rejects ${JSON.stringify(raw)}`, () => {
      assert.throws(
        () => parseFormOutput(raw),
        (e: Error) => e instanceof JudgeOutputError && why.test(e.message),
      );
    });
  }
});

describe("parseEvaluationSteps", () => {
  it("takes numbered lines without their numbers", () => {
    assert.deepEqual(parseEvaluationSteps("Steps:\n1. Read the question.\n2) Compare.\nStep 3: Score it."), [
      "Read the question.",
      "Compare.",
      "Score it.",
    ]);
  });
  it("refuses output without steps", () => {
    assert.throws(() => parseEvaluationSteps("Just judge it well."), JudgeOutputError);
  });
});
