import assert from "node:assert/strict";
import { test } from "node:test";
import { estimateTrainingTokens } from "./training-tokens.js";

test("a training pass reads each example's question, chunks and answer: 4 characters a token, rounded up", () => {
  const example = { question: "q".repeat(100), answer: "a".repeat(100), contexts: [{ text: "c".repeat(201) }] };
  assert.equal(estimateTrainingTokens([example, example]), Math.ceil((2 * 401) / 4));
  assert.equal(estimateTrainingTokens([]), 0);
});
