import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { splitDataset } from "./split.js";
import { jaccard, nearDuplicatePairs, questionWords, splitGroups } from "./split-groups.js";
import type { QaItem } from "./types.js";

function item(id: string, question: string, metadata: Record<string, string> = {}): QaItem {
  return {
    id,
    question,
    answer: "a",
    answers: ["a"],
    evidence: [],
    evidenceDocumentIds: [],
    type: "factoid",
    metadata,
  };
}

/** Which side of the split each id is on: "eval" or "train" (any fine-tuning pool), absent when in neither. */
function sides(split: ReturnType<typeof splitDataset>): Map<string, string> {
  const side = new Map<string, string>();
  for (const [name, pool] of Object.entries(split.pools)) {
    for (const i of pool.items) side.set(i.id, name === "eval" ? "eval" : "train");
  }
  return side;
}

describe("near-duplicate questions", () => {
  const pair = [
    "What are the side effects of aspirin in adults?",
    "What are the known side effects of Aspirin in adults",
  ];
  const filler = Array.from({ length: 60 }, (_, i) => item(`f${i}`, `Filler question ${i} about topic ${i * 7}?`));

  it("finds pairs at word-overlap ≥ 0.8 on lower-cased word sets, not only exact matches", () => {
    assert.ok(jaccard(questionWords(pair[0]), questionWords(pair[1])) >= 0.8);
    const below = "What are the benefits of aspirin in children?";
    assert.ok(jaccard(questionWords(pair[0]), questionWords(below)) < 0.8);
    assert.deepEqual(nearDuplicatePairs([pair[0], below, pair[1]]), [[0, 2]]);
  });

  it("never puts two near-duplicates on both sides of the split, for any seed", () => {
    const items = [item("a", pair[0]), item("b", pair[1]), ...filler];
    const straddles = [];
    for (let seed = 0; seed < 40; seed++) {
      const side = sides(splitDataset(items, { dataset: "bioasq", seed, poolSizes: [20, 47], evalSize: 15 }));
      assert.ok(side.has("a") && side.has("b"), `seed ${seed}: both kept`);
      if (side.get("a") !== side.get("b")) straddles.push(seed);
    }
    assert.deepEqual(straddles, []);
    assert.equal(splitGroups(items).find((g) => g.items.some((i) => i.id === "a"))?.items.length, 2);
  });

  it("does not join the same wording about two different papers (each paper is its own group)", () => {
    const groups = splitGroups([
      item("p1q", "Which datasets do they use?", { paper_id: "p1" }),
      item("p2q", "Which datasets do they use for training?", { paper_id: "p2" }),
    ]);
    assert.equal(groups.length, 2);
  });
});
