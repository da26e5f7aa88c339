import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ItemSchema } from "@ragtune/contracts/datasets";
import { FailureClass, JobSpecSchema } from "@ragtune/contracts/trainer";
import { createManifest, loadQasper, splitDataset, writeManifest as writeSplitManifest } from "@ragtune/datasets";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeManifest } from "../../test/fixtures/write-manifest.js";
import type { ExecutorFailure } from "./executors/executor.js";
import { renderTrainingJsonl } from "./executors/peft.js";
import { loadTrainingPairs, toTrainingPair } from "./training-pairs.js";

const spec = (manifestUri: string, manifestSha256: string, pool = "finetune-8", size = 0) =>
  create(JobSpecSchema, { trainingData: { manifestUri, manifestSha256, pool, size } });

async function userError(promise: Promise<unknown>, pattern: RegExp) {
  await assert.rejects(promise, (e: ExecutorFailure) => {
    assert.equal(e.failureClass, FailureClass.USER_ERROR);
    assert.match(e.message, pattern);
    return true;
  });
}

describe("training pairs from a split manifest", () => {
  it("loads a verified pool, honours size, and refuses a checksum mismatch, a missing pool or file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pairs-"));
    try {
      const { path, sha256 } = await writeManifest(dir);
      const { pairs, sha256: poolSha } = await loadTrainingPairs(spec(path, sha256));
      assert.equal(pairs.length, 8);
      assert.match(poolSha, /^[0-9a-f]{64}$/);
      assert.equal(pairs[1].contexts.length, 2);
      assert.equal((await loadTrainingPairs(spec(path, sha256, "finetune-8", 3))).pairs.length, 3);
      await userError(loadTrainingPairs(spec(path, "f".repeat(64))), /sha256 is [0-9a-f]{64}, the job expects f+/);
      await userError(loadTrainingPairs(spec(path, sha256, "finetune-500")), /pool "finetune-500" is not in/);
      await userError(loadTrainingPairs(spec(path, sha256, "finetune-8", 9)), /9 is larger than pool/);
      await userError(loadTrainingPairs(spec(join(dir, "missing.json"), "")), /no such file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("uses evidence passages when an item has no retrieved contexts", () => {
    const pair = toTrainingPair(
      create(ItemSchema, { id: "x", question: "q?", answer: "a", evidence: ["passage one"] }),
    );
    assert.deepEqual(pair.contexts, [{ text: "passage one", sourceId: "evidence-1" }]);
    assert.deepEqual(pair.answers, ["a"]);
  });

  const qasper = join(process.cwd(), "../../../shared/datasets/qasper/qasper-sample-6papers.json");
  it("turns real Qasper QA pairs with their evidence into RAG training prompts", {
    skip: !existsSync(qasper) && "../shared/datasets is not here",
  }, async () => {
    // The manifest as `ragtune datasets split` writes it: loaded, split and written by @ragtune/datasets.
    const loaded = await loadQasper(qasper);
    const split = splitDataset(
      loaded.items.filter((item) => item.answer && item.evidence.length > 0),
      { dataset: "qasper", seed: 1, poolSizes: [10], evalSize: 1 },
    );
    const items = split.pools["finetune-10"].items;
    assert.equal(items.length, 10);
    const dir = await mkdtemp(join(tmpdir(), "pairs-qasper-"));
    try {
      const path = join(dir, "manifest.json");
      await writeSplitManifest(path, createManifest(split));
      const { pairs } = await loadTrainingPairs(spec(path, "", "finetune-10"));
      // A window no Qasper prompt reaches: this checks the content, peft.test.ts the fitting.
      const counter = { countMessages: async () => 0, countText: async () => 0, close: async () => {} };
      const lines = (await renderTrainingJsonl(pairs, { baseModel: "m", maxSeqLength: 2048, counter }))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      assert.equal(lines.length, items.length);
      lines.forEach((line, i) => {
        const user = line.messages.at(-1).content;
        assert.ok(user.includes(items[i].question));
        assert.ok(user.includes(items[i].evidence[0].slice(0, 80)));
        assert.equal(line.completion, items[i].answer.trim());
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
