import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { tinyWinkJson } from "../../test/support/tiny-word-vectors.js";
import { tokenize } from "../lexical/tokenize.js";
import { createSifEncoder, SIF_A, type SifEncoder, zipfProbabilities } from "./sif.js";
import { parseWinkVectors } from "./wink-vectors-parser.js";
import type { WordVectors } from "./word-vectors.js";

async function* once(text: string) {
  yield Buffer.from(text);
}

const dot = (x: ArrayLike<number>, y: ArrayLike<number>) => {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i] * y[i];
  return sum;
};

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

describe("SIF embeddings over word vectors in the package's format", () => {
  let vectors: WordVectors;
  let plain: SifEncoder;
  let sif: SifEncoder;
  const row = (word: string) => {
    const at = vectors.rows.get(word)!;
    return Array.from(vectors.matrix.subarray(at * vectors.dimensions, (at + 1) * vectors.dimensions));
  };
  const unit = (v: number[]) => v.map((x) => x / Math.hypot(...v));
  const weight = (word: string) => {
    const p = zipfProbabilities(vectors.words.length)[vectors.rows.get(word)!];
    return SIF_A / (SIF_A + p);
  };

  before(async () => {
    vectors = await parseWinkVectors(once(tinyWinkJson()));
    plain = createSifEncoder(vectors, { tokenize, removeCommonComponent: false });
    sif = createSifEncoder(vectors, { tokenize });
  });

  it("estimates word probabilities from frequency rank (Zipf): they sum to 1 and fall as 1/rank", () => {
    const p = zipfProbabilities(1000);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.ok(Math.abs(p[0] / p[9] - 10) < 1e-9);
    assert.ok(weight("cat") < weight("roars"), "a rarer word weighs more");
  });

  it("averages the known words' vectors weighted a/(a + p(w)), repeats included, then L2-normalises", () => {
    close(plain.encode("kitten"), unit(row("kitten")));
    const expected = row("cat").map((x, d) => 2 * weight("cat") * x + weight("roars") * row("roars")[d]);
    close(plain.encode("cat roars cat"), unit(expected));
    assert.ok(Math.abs(dot(plain.encode("cat roars cat"), plain.encode("cat roars")) - 1) > 1e-4);
  });

  it("sees the lexical tokens only: stop words, punctuation, case and unknown words change nothing", () => {
    close(sif.encode("The CAT, of course, is sleeping!"), sif.encode("cat"));
    close(sif.encode('Café " \\ qwzx'), sif.encode("café"));
  });

  it("removes the common direction: every text is orthogonal to it, so the shared offset no longer dominates", () => {
    const common = sif.encode("qwzx zzyzx");
    assert.ok(Math.abs(Math.hypot(...common) - 1) < 1e-6, "a text with no known word still gets a unit vector");
    for (const text of ["cat", "kitten sleeps", "car engine", "truck roars", "café"]) {
      const v = sif.encode(text);
      assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-6, text);
      assert.ok(Math.abs(dot(v, common)) < 1e-6, `${text}: cosine with the common direction ${dot(v, common)}`);
    }
    // Without the removal the shared offset makes unrelated words look alike.
    assert.ok(dot(plain.encode("cat"), plain.encode("truck")) > dot(sif.encode("cat"), sif.encode("truck")));
  });

  it("puts related texts near each other", () => {
    const kitten = sif.encode("kitten");
    assert.ok(dot(kitten, sif.encode("cat")) > dot(kitten, sif.encode("car")));
    const engine = sif.encode("the engine roars");
    assert.ok(dot(engine, sif.encode("a truck")) > dot(engine, sif.encode("a cat sleeps")));
  });

  it("gives a text of stop words, punctuation or unknown words finite vectors whose cosines are 0, not NaN", () => {
    for (const text of ["", "the of is", "!!! ,,,", "qwzx"]) {
      const v = sif.encode(text);
      assert.ok(v.every(Number.isFinite), text);
      assert.ok(Math.abs(dot(v, sif.encode("kitten sleeps"))) < 1e-6, text);
    }
  });
});
