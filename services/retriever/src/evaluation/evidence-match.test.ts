import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chunkCoversEvidence, evidenceKey, scoreRetrieval } from "./evidence-match.js";

const paragraph =
  "The seed lexicon consists of positive and negative predicates. If the predicate of an extracted event is in " +
  "the seed lexicon and does not involve complex phenomena like negation, we assign the corresponding polarity score.";

describe("evidence matching", () => {
  it("finds a short snippet inside a chunk, whatever the case and punctuation", () => {
    const key = evidenceKey("Aspirin inhibits COX.")!;
    assert.ok(chunkCoversEvidence("Background. ASPIRIN inhibits cox; it is old.", key));
    assert.ok(!chunkCoversEvidence("Aspirin is old and inhibits COX.", key));
  });

  it("finds a long paragraph split across chunks in either half", () => {
    const key = evidenceKey(paragraph)!;
    const cut = paragraph.indexOf("does not involve");
    assert.ok(chunkCoversEvidence(`Earlier text. ${paragraph.slice(0, cut)}`, key));
    assert.ok(chunkCoversEvidence(paragraph.slice(cut), key));
    assert.ok(!chunkCoversEvidence("The seed lexicon consists of many things.", key));
  });

  it("scores recall, hit and reciprocal rank over a ranking", () => {
    const evidence = [evidenceKey("alpha beta gamma")!, evidenceKey("delta epsilon zeta")!];
    const ranked = ["nothing here", "x delta epsilon zeta y", "nothing", "alpha beta gamma"];
    assert.deepEqual(scoreRetrieval(ranked, evidence, 5), { recall: 1, hit: 1, reciprocalRank: 0.5 });
    assert.deepEqual(scoreRetrieval(ranked, evidence, 2), { recall: 0.5, hit: 1, reciprocalRank: 0.5 });
    assert.deepEqual(scoreRetrieval(["nothing"], evidence, 5), { recall: 0, hit: 0, reciprocalRank: 0 });
  });
});
