import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isAbstention } from "./abstention.js";

describe("isAbstention", () => {
  it("recognises the ways a model declines, as the RAG prompt asks it to", () => {
    for (const answer of [
      "The context does not answer this question.",
      "The passages do not contain the answer.",
      "The paper doesn't mention which datasets were used.",
      "Unanswerable",
      "This is not mentioned in the provided context.",
      "I cannot answer this from the given passages.",
      "I don't know.",
      "No information is given about the baseline.",
    ]) {
      assert.ok(isAbstention(answer), answer);
    }
  });

  it("leaves real answers alone, also ones with a hedge after the answer", () => {
    for (const answer of [
      "Yes",
      "They use BERT and a BiLSTM baseline.",
      "The model uses convolutions, not attention.",
      "English and German. The paper does not mention other languages.",
      "No",
    ]) {
      assert.ok(!isAbstention(answer), answer);
    }
  });
});
