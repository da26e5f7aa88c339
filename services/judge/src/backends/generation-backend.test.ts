import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseFormOutput } from "../output-parsing.js";
import { formJsonToText } from "./generation-backend.js";

describe("formJsonToText", () => {
  it("turns grammar-constrained JSON into the form the strict parser reads", () => {
    const text = formJsonToText('{"rationale": "Names the organ. ", "score": 4}');
    assert.equal(text, "Names the organ.\nScore: 4");
    assert.deepEqual(parseFormOutput(text!), { score: 4, rationale: "Names the organ." });
  });
  it("gives nothing for output that is not the form's JSON, so it fails parsing as it is", () => {
    assert.equal(formJsonToText('{"rationale": "cut off'), undefined);
    assert.equal(formJsonToText('{"score": "4"}'), undefined);
  });
});
