import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { DEFAULT_READER_WEIGHTS, evaluateReader, type ReaderTrainingPair, trainReader } from "@ragtune/reader";

const oracle = new URL("../../../../shared/datasets/nq/nq-open-oracle.jsonl.gz", import.meta.url);
const skip = existsSync(oracle) ? false : "../shared/datasets/nq is absent";

describe("extractive reader on real NQ-open passages", { skip }, () => {
  it("fine-tuning on 500 pairs beats the default weights on 500 held-out pairs", () => {
    const records = gunzipSync(readFileSync(oracle))
      .toString("utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const pairs: ReaderTrainingPair[] = records.map(
      (r: { question: string; answers: string[]; ctxs: { title: string; text: string }[] }) => ({
        question: r.question,
        answers: r.answers,
        contexts: r.ctxs.map((c) => ({ text: c.text, sourceId: c.title })),
      }),
    );
    const train = pairs.slice(0, 500);
    const heldOut = pairs.slice(1000, 1500);
    const tuned = trainReader(train, { seed: 1 });
    const base = evaluateReader(DEFAULT_READER_WEIGHTS, heldOut).top1Accuracy;
    const after = evaluateReader(tuned, heldOut).top1Accuracy;
    console.log(`NQ-open held-out top-1 sentence accuracy: default ${base.toFixed(3)}, fine-tuned ${after.toFixed(3)}`);
    assert.ok(after > base, `fine-tuned ${after} vs default ${base}`);
  });
});
