/**
 * verifyManifest re-checks what the split guaranteed across the pool/evaluation boundary: no near-duplicate
 * question and no paper on both sides, while the same templated wording about two papers (Qasper) is no leak.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createManifest, itemHash, type SplitManifest, poolHash, verifyManifest } from "./manifest.js";
import { parseManifest, readManifest, serializeManifest, writeManifest } from "./manifest-file.js";
import { splitDataset } from "./split.js";
import { jaccard, questionWords } from "./split-groups.js";
import type { QaItem } from "./types.js";

function item(id: string, question: string, metadata: Record<string, string> = {}): QaItem {
  return {
    id,
    question,
    answer: `a-${id}`,
    answers: [`a-${id}`],
    evidence: [],
    evidenceDocumentIds: [],
    type: "x",
    metadata,
  };
}

/** What a careful hand-edit does after changing items: recompute every item and pool hash, so only leakage shows. */
function rehash(manifest: SplitManifest): SplitManifest {
  for (const pool of Object.values(manifest.pools)) {
    for (const i of pool.items) i.sha256 = itemHash(i);
    pool.sha256 = poolHash(pool.items.map((i) => i.sha256));
  }
  return manifest;
}

const WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta", "lambda", "zeta"];
const distinctQuestions = Array.from(
  { length: 60 },
  (_, i) => `which ${WORDS[i % 10]} enzyme binds receptor ${i} in the ${WORDS[(i * 3) % 10]} pathway of cells`,
);

describe("verifyManifest: near-duplicates across the split", () => {
  const split = splitDataset(
    distinctQuestions.map((q, i) => item(`q${i}`, q)),
    { dataset: "bioasq", seed: 1, poolSizes: [20, 40], evalSize: 10 },
  );
  const manifest = createManifest(split, { now: new Date("2026-01-01T00:00:00Z") });

  it("passes the split as made", () => {
    assert.deepEqual(verifyManifest(manifest), { ok: true, problems: [] });
  });

  it("refuses a hand-edited manifest whose evaluation question nearly repeats a fine-tuning one", async () => {
    const edited = structuredClone(manifest);
    const trained = edited.pools["finetune-40"].items[7];
    const nearCopy = `${trained.question} today`;
    assert.ok(jaccard(questionWords(nearCopy), questionWords(trained.question)) >= 0.8);
    edited.pools.eval.items[2].question = nearCopy;
    rehash(edited);
    const result = verifyManifest(edited);
    assert.equal(result.ok, false);
    assert.deepEqual(result.problems, [
      `pools.eval.items[2] (${edited.pools.eval.items[2].id}): question "${nearCopy}" is a near-duplicate (word overlap ≥ 0.8) of fine-tuning item ${trained.id} "${trained.question}"`,
    ]);
    // What the trainer and the gateway read: the file is refused before anything is judged.
    const dir = await mkdtemp(join(tmpdir(), "ragtune-leak-"));
    try {
      await writeManifest(join(dir, "split.json"), edited);
      await assert.rejects(readManifest(join(dir, "split.json")), /near-duplicate/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("lets a question that shares fewer words through", () => {
    const edited = structuredClone(manifest);
    const trained = edited.pools["finetune-40"].items[7];
    const words = trained.question.split(" ");
    const reworded = [...words.slice(0, 6), "entirely", "different", "words", "here"].join(" ");
    assert.ok(jaccard(questionWords(reworded), questionWords(trained.question)) < 0.8);
    edited.pools.eval.items[2].question = reworded;
    assert.deepEqual(verifyManifest(rehash(edited)).problems, []);
  });
});

describe("verifyManifest: Qasper's paper groups", () => {
  // Every paper is asked the same templated questions: the same wording about another paper is another question.
  const templates = ["What datasets do they use?", "Which datasets do they use?", "What baseline do they compare to?"];
  const papers = Array.from({ length: 12 }, (_, p) => `2101.${String(p).padStart(5, "0")}`);
  const items = papers.flatMap((paper, p) =>
    templates.map((t, k) =>
      item(`${paper}-q${k}`, k === 1 ? t : `${t.slice(0, -1)} in paper ${p}?`, { paper_id: paper }),
    ),
  );
  const split = splitDataset(items, { dataset: "qasper", seed: 0, poolSizes: [18, 27], evalSize: 9 });
  const manifest = createManifest(split, { now: new Date("2026-01-01T00:00:00Z") });

  it("records each item's paper group and passes templated questions about different papers", () => {
    const json = JSON.parse(Buffer.from(serializeManifest(manifest)).toString("utf8"));
    const first = json.pools.eval.items[0];
    assert.match(first.group, /^paper_id:2101\.\d{5}$/);
    assert.equal(first.group, `paper_id:${first.id.split("-")[0]}`);
    // The check has something to pass over: near-duplicate wordings sit on both sides.
    const evalQuestions = manifest.pools.eval.items.map((i) => questionWords(i.question));
    const trainQuestions = manifest.pools["finetune-27"].items.map((i) => questionWords(i.question));
    assert.ok(evalQuestions.some((e) => trainQuestions.some((t) => jaccard(e, t) >= 0.8)));
    assert.deepEqual(verifyManifest(manifest), { ok: true, problems: [] });
  });

  it("refuses a paper on both sides", () => {
    const edited = structuredClone(manifest);
    edited.pools.eval.items[0].group = edited.pools["finetune-18"].items[0].group;
    const problems = verifyManifest(rehash(edited)).problems;
    assert.deepEqual(problems, [
      `pools.eval.items[0] (${edited.pools.eval.items[0].id}): group ${edited.pools["finetune-18"].items[0].group} is also in a fine-tuning pool`,
    ]);
  });

  it("reads and verifies a manifest written before items carried their group", () => {
    const old = JSON.parse(Buffer.from(serializeManifest(manifest)).toString("utf8"));
    for (const pool of Object.values(old.pools) as { items: Record<string, unknown>[] }[]) {
      for (const i of pool.items) delete i.group;
    }
    const parsed = rehash(parseManifest(JSON.stringify(old)));
    assert.ok(parsed.pools.eval.items.every((i) => i.group === ""));
    assert.deepEqual(verifyManifest(parsed), { ok: true, problems: [] });
    // Without a group, the item hash is the old one (over id, question, answer, answers, evidence only).
    const i = parsed.pools.eval.items[0];
    assert.notEqual(itemHash(i), itemHash({ ...i, group: "paper_id:x" }));
  });
});
