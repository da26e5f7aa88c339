import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  createManifest,
  loadBioAsq,
  loadNqOpen,
  loadQasper,
  nearDuplicatePairs,
  normalizeQuestion,
  prepareSplit,
  splitDataset,
  verifyManifest,
} from "../src/index.js";

const shared = resolve(fileURLToPath(import.meta.url), "../../../../../shared/datasets");
const skip = existsSync(shared) ? false : `no ${shared} (the real dataset samples live outside the repository)`;

describe("loaders on the real samples in ../shared/datasets", { skip }, () => {
  it("BioASQ 7b–10b golden batches: every question, snippets as evidence, tolerant of unknown fields", async () => {
    const loaded = await loadBioAsq(join(shared, "bioasq"));
    assert.equal(loaded.sources.length, 21);
    const duplicates = loaded.skipped["duplicate question id"] ?? 0;
    assert.equal(loaded.items.length + duplicates, 1983);
    assert.ok(
      loaded.items.every((i) => i.question && i.answers.length > 0),
      "every question has an answer",
    );
    const withEvidence = loaded.items.filter((i) => i.evidence.length > 0).length;
    assert.ok(withEvidence / loaded.items.length > 0.99, `${withEvidence} with evidence`);
    const documentIds = new Set(loaded.documents.map((d) => d.id));
    assert.ok(loaded.items.every((i) => i.evidenceDocumentIds.every((id) => documentIds.has(id))));
    const split = splitDataset(loaded.items, { dataset: "bioasq", seed: 0 });
    assert.equal(split.pools["finetune-1000"].items.length, 1000);
    assert.deepEqual(verifyManifest(createManifest(split)), { ok: true, problems: [] });
  });

  it("BioASQ: its near-duplicate questions (word overlap ≥ 0.8) never straddle a fine-tuning pool and evaluation", async () => {
    const loaded = await loadBioAsq(join(shared, "bioasq"));
    const unique = [...new Map(loaded.items.map((i) => [normalizeQuestion(i.question), i])).values()];
    const pairs = nearDuplicatePairs(unique.map((i) => i.question)).map(([a, b]) => [unique[a].id, unique[b].id]);
    const byId = new Map(unique.map((i) => [i.id, i.question]));
    assert.ok(
      pairs.some(
        ([a, b]) =>
          byId.get(a) === "Which drugs are included in the Lonsurf combination pill?" ||
          byId.get(b) === "Which drugs are included in the Lonsurf combination pill?",
      ),
      "the sample's known pair is found",
    );
    assert.ok(pairs.length >= 10, `${pairs.length} near-duplicate pairs`);
    for (const seed of [0, 1, 2, 3, 4]) {
      const split = splitDataset(loaded.items, { dataset: "bioasq", seed });
      const eval_ = new Set(split.pools.eval.items.map((i) => i.id));
      const train = new Set(split.pools["finetune-1000"].items.map((i) => i.id));
      const straddling = pairs.filter(([a, b]) => (eval_.has(a) && train.has(b)) || (eval_.has(b) && train.has(a)));
      assert.deepEqual(
        straddling.map(([a, b]) => `${byId.get(a)} | ${byId.get(b)}`),
        [],
        `seed ${seed}`,
      );
    }
  });

  it("NQ-open dev with the oracle passages", async () => {
    const loaded = await loadNqOpen({
      questions: join(shared, "nq/NQ-open.dev.jsonl"),
      oracle: join(shared, "nq/nq-open-oracle.jsonl.gz"),
    });
    assert.equal(loaded.items.length + (loaded.skipped["repeated question"] ?? 0), 3100);
    const withGold = loaded.items.filter((i) => i.evidence.length > 0).length;
    assert.ok(withGold >= 2000, `${withGold} questions with a gold passage`);
    assert.ok(loaded.documents.length > 1500, `${loaded.documents.length} passages`);
    const split = splitDataset(loaded.items, { dataset: "nq-open", seed: 0 });
    assert.deepEqual(verifyManifest(createManifest(split)), { ok: true, problems: [] });
  });

  it("NQ-open: prepareSplit keeps only questions whose gold passage is in the corpus, by default", async () => {
    const folder = join(shared, "nq");
    const loaded = await loadNqOpen({
      questions: join(folder, "NQ-open.dev.jsonl"),
      oracle: join(folder, "nq-open-oracle.jsonl.gz"),
    });
    const noGold = loaded.items.filter((i) => i.evidenceDocumentIds.length === 0).length;
    assert.ok(noGold / loaded.items.length > 0.25, `${noGold} of ${loaded.items.length} without a gold passage`);
    const { manifest } = await prepareSplit({ dataset: "nq-open", path: folder, seed: 0 });
    assert.equal(manifest.answerableOnly, true);
    assert.equal(manifest.unanswerableQuestionsDropped, noGold);
    const gold = new Set(loaded.items.filter((i) => i.evidenceDocumentIds.length > 0).map((i) => i.id));
    const evaluated = manifest.pools.eval.items;
    assert.ok(evaluated.length > 0 && evaluated.every((i) => gold.has(i.id)), "every evaluation question has gold");
    const opted = await prepareSplit({ dataset: "nq-open", path: folder, seed: 0, includeUnanswerable: true });
    assert.equal(opted.manifest.answerableOnly, false);
    assert.ok(
      opted.manifest.pools.eval.items.some((i) => !gold.has(i.id)),
      "opt-out keeps the others",
    );
  });

  it("Qasper: 6 papers, 36 questions, evidence found in the paper text", async () => {
    const loaded = await loadQasper(join(shared, "qasper/qasper-sample-6papers.json"));
    assert.equal(loaded.documents.length, 6);
    assert.equal(loaded.items.length, 36);
    const texts = new Map(loaded.documents.map((d) => [d.id, d.text]));
    let found = 0;
    let total = 0;
    for (const item of loaded.items) {
      for (const evidence of item.evidence) {
        total++;
        if (texts.get(item.evidenceDocumentIds[0])!.includes(evidence)) found++;
      }
    }
    assert.ok(total > 0 && found / total > 0.95, `${found}/${total} evidence passages found verbatim`);
    const split = splitDataset(loaded.items, { dataset: "qasper", seed: 0 });
    assert.ok(split.pools["finetune-200"].items.length < 200, "pools shrink on a small dataset");
    assert.deepEqual(verifyManifest(createManifest(split)), { ok: true, problems: [] });
  });

  it("Qasper: paper_id in document and item metadata; split by paper, no paper in two pools", async () => {
    const loaded = await loadQasper(join(shared, "qasper/qasper-sample-6papers.json"));
    const papers = new Set(loaded.documents.map((d) => d.metadata.paper_id));
    assert.deepEqual(new Set(loaded.documents.map((d) => d.id)), papers);
    assert.ok(
      loaded.items.every((i) => papers.has(i.metadata.paper_id) && i.evidenceDocumentIds[0] === i.metadata.paper_id),
    );
    for (const seed of [0, 1, 2, 3, 4, 5, 6, 7]) {
      const split = splitDataset(loaded.items, { dataset: "qasper", seed, poolSizes: [10], evalSize: 12 });
      const evalPapers = new Set(split.pools.eval.items.map((i) => i.metadata.paper_id));
      const trainPapers = new Set(split.pools["finetune-10"].items.map((i) => i.metadata.paper_id));
      assert.ok(evalPapers.size > 0 && trainPapers.size > 0);
      assert.deepEqual(
        [...trainPapers].filter((p) => evalPapers.has(p)),
        [],
        `seed ${seed}`,
      );
    }
  });
});
