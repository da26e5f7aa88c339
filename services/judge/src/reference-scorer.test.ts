import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scoreAgainstReference } from "./reference-scorer.js";

describe("scoreAgainstReference", () => {
  it("gives 5 to an answer that states the gold answer and nothing unsupported", () => {
    const s = scoreAgainstReference({ answer: "Paris.", referenceAnswers: ["Paris"], referenceEvidence: [] });
    assert.equal(s.accuracy, 5);
    assert.equal(s.completeness, 5);
  });
  it("counts a verbatim gold answer inside a longer answer as complete, its extra words against accuracy", () => {
    const s = scoreAgainstReference({
      answer: "The capital of France is Paris, a city of bakeries.",
      referenceAnswers: ["Paris"],
      referenceEvidence: ["Paris is the capital and largest city of France."],
    });
    assert.equal(s.completeness, 5);
    assert.ok(s.accuracy > 3 && s.accuracy < 5, String(s.accuracy));
  });
  it("gives 1 to an unrelated answer and requires some reference", () => {
    const s = scoreAgainstReference({
      answer: "Bananas are yellow.",
      referenceAnswers: ["Paris"],
      referenceEvidence: [],
    });
    assert.equal(s.accuracy, 1);
    assert.equal(s.completeness, 1);
    assert.throws(
      () => scoreAgainstReference({ answer: "x", referenceAnswers: [], referenceEvidence: [] }),
      RangeError,
    );
  });
  it("takes the best match over every acceptable gold answer, per criterion", () => {
    const references = ["Paris", "the City of Light"];
    const s = scoreAgainstReference({
      answer: "The City of Light.",
      referenceAnswers: references,
      referenceEvidence: [],
    });
    assert.equal(s.accuracy, 5);
    assert.equal(s.completeness, 5);
    assert.match(s.rationale, /gold answer 2 of 2/);
    // The same answer against the first gold answer alone is no match at all.
    const first = scoreAgainstReference({
      answer: "The City of Light.",
      referenceAnswers: ["Paris"],
      referenceEvidence: [],
    });
    assert.equal(first.completeness, 1);
  });
});
