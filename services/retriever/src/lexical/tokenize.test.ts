import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRandom } from "@ragtune/runtime";
import { tokenize } from "./tokenize.js";

/** The definition the fast scanner must match. */
function bySplitting(text: string): string[] {
  const stop = new Set(tokenize("a an the of and"));
  assert.equal(stop.size, 0);
  return text
    .normalize("NFKC")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((term) => term.length > 0)
    .map((term) => term.slice(0, 64))
    .filter((term) => tokenize(term).length > 0);
}

describe("tokenize", () => {
  it("lower-cases, splits on anything but letters and digits, and drops stop words", () => {
    assert.deepEqual(tokenize("The IL-6 receptor, in 2019: Müller's ΔF508 study!"), [
      "il",
      "6",
      "receptor",
      "2019",
      "müller",
      "s",
      "δf508",
      "study",
    ]);
    assert.deepEqual(tokenize("the of, and?!"), []);
  });

  it("gives the same terms as the regular-expression definition on random Unicode text", () => {
    const random = seededRandom(5);
    const alphabet = [..."abcXYZ019 ,.-'éÉßİıΣσ中文😀𝔘\u0301\u00a0\tﬁ①"];
    for (let n = 0; n < 2000; n++) {
      const text = Array.from(
        { length: Math.floor(random() * 40) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join("");
      assert.deepEqual(tokenize(text), bySplitting(text), JSON.stringify(text));
    }
  });
});
