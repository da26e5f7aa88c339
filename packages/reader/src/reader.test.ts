import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { FEATURE_NAMES } from "./features.js";
import { answerWithReader, scoreSentences } from "./reader.js";
import { splitSentences } from "./text.js";
import { evaluateReader, type ReaderTrainingPair, trainReader } from "./train.js";
import { DEFAULT_READER_WEIGHTS, parseReaderWeights } from "./weights.js";

const fixture = JSON.parse(
  readFileSync(new URL("../test/fixtures/reader-qa.json", import.meta.url), "utf8"),
) as ReaderTrainingPair[];

describe("extractive reader", () => {
  it("splits sentences but keeps abbreviations and decimals inside them", () => {
    assert.deepEqual(splitSentences("It rose 2.5 m. Then e.g. Fig. 3 shows it. Done!\nNext line"), [
      "It rose 2.5 m.",
      "Then e.g. Fig. 3 shows it.",
      "Done!",
      "Next line",
    ]);
  });

  it("answers with the sentence that carries the answer, under the default weights", () => {
    const [bridge] = fixture;
    const result = answerWithReader(
      DEFAULT_READER_WEIGHTS,
      bridge.question,
      bridge.contexts.map((text) => ({ text: String(text) })),
    );
    assert.equal(result.answer, "It was opened to traffic in 1932 after eight years of work.");
    assert.equal(result.finishReason, "stop");
    assert.equal(result.sentencesRead, 5);
    assert.equal(result.selected[0].contextIndex, 0);
    assert.ok(result.selected[0].probability > 0 && result.selected[0].probability < 1);
  });

  it("scores every sentence, best first, with one feature per name", () => {
    const ranked = scoreSentences(DEFAULT_READER_WEIGHTS, "How long is the Orrin Canal?", [
      { text: String(fixture[6].contexts[0]) },
    ]);
    assert.equal(ranked.length, 3);
    assert.ok(ranked[0].score >= ranked[1].score && ranked[1].score >= ranked[2].score);
    assert.match(ranked[0].text, /41 kilometres/);
    assert.equal(FEATURE_NAMES.length, Object.keys(DEFAULT_READER_WEIGHTS.weights).length);
  });

  it("says so when there is nothing to read", () => {
    const result = answerWithReader(DEFAULT_READER_WEIGHTS, "Who?", [{ text: "  " }]);
    assert.deepEqual([result.answer, result.finishReason], ["", "no_context"]);
  });

  it("trains deterministically for a seed and improves top-1 accuracy on its pairs", () => {
    // A deliberately bad start (prefers short, late sentences) that training must repair.
    const bad = {
      ...DEFAULT_READER_WEIGHTS,
      weights: { overlap: -1, idf_overlap: -1, position: -2, short: 2 },
      bias: 0,
    };
    const progress: number[] = [];
    const a = trainReader(fixture, { seed: 7, epochs: 30, initial: bad, onEpoch: (p) => progress.push(p.loss) });
    const b = trainReader(fixture, { seed: 7, epochs: 30, initial: bad });
    assert.deepEqual(a, b);
    assert.equal(progress.length, 30);
    assert.ok(a.training);
    assert.equal(a.training.pairs, fixture.length);
    assert.ok(a.training.top1AccuracyAfter > a.training.top1AccuracyBefore, JSON.stringify(a.training));
    assert.ok(evaluateReader(a, fixture).top1Accuracy >= 0.75);
    const c = trainReader(fixture, { seed: 8, epochs: 30, initial: bad });
    assert.notDeepEqual(a.weights, c.weights);
  });

  it("round-trips its weights file and rejects a malformed one naming the field", () => {
    const trained = trainReader(fixture, { epochs: 2 });
    const parsed = parseReaderWeights(JSON.parse(JSON.stringify(trained)));
    assert.deepEqual(parsed, trained);
    assert.throws(() => parseReaderWeights({ ...trained, version: 2 }), /version/);
    assert.throws(
      () => parseReaderWeights({ ...trained, weights: { nonsense: 1 } }),
      /weights\.nonsense: unknown feature/,
    );
    assert.throws(() => parseReaderWeights({ ...trained, bias: "x" }), /bias/);
    assert.throws(() => parseReaderWeights({ ...trained, selection: { maxSentences: 0 } }), /selection\.maxSentences/);
  });
});
