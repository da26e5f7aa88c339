import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { createManifest, verifyManifest } from "./manifest.js";
import { readManifest, serializeManifest, writeManifest } from "./manifest-file.js";
import { splitDataset } from "./split.js";
import { normalizeQuestion } from "./text.js";
import type { QaItem } from "./types.js";

function item(i: number, question = `question number ${i}?`): QaItem {
  return {
    id: `q${String(i).padStart(5, "0")}`,
    question,
    answer: `answer ${i}`,
    answers: [`answer ${i}`],
    evidence: [`evidence ${i}`],
    evidenceDocumentIds: [`d${i}`],
    type: "factoid",
    metadata: {},
  };
}

const items = Array.from({ length: 1500 }, (_, i) => item(i));

describe("splitDataset", () => {
  it("makes nested pools of 200 ⊂ 500 ⊂ 1000 and a disjoint eval set", () => {
    const split = splitDataset(items, { dataset: "bioasq", seed: 0 });
    const ids = (name: string) => split.pools[name].items.map((i) => i.id);
    assert.equal(ids("finetune-200").length, 200);
    assert.equal(ids("finetune-500").length, 500);
    assert.equal(ids("finetune-1000").length, 1000);
    assert.deepEqual(ids("finetune-500").slice(0, 200), ids("finetune-200"));
    assert.deepEqual(ids("finetune-1000").slice(0, 500), ids("finetune-500"));
    assert.equal(ids("eval").length, 300);
    const train = new Set(ids("finetune-1000"));
    assert.ok(ids("eval").every((id) => !train.has(id)));
  });

  it("depends on the seed, not on the input order", () => {
    const a = splitDataset(items, { dataset: "bioasq", seed: 7 });
    const b = splitDataset([...items].reverse(), { dataset: "bioasq", seed: 7 });
    const c = splitDataset(items, { dataset: "bioasq", seed: 8 });
    assert.deepEqual(
      a.pools["finetune-200"].items.map((i) => i.id),
      b.pools["finetune-200"].items.map((i) => i.id),
    );
    assert.notDeepEqual(
      a.pools["finetune-200"].items.map((i) => i.id),
      c.pools["finetune-200"].items.map((i) => i.id),
    );
  });

  it("keeps identical question texts out of both sides and shrinks pools on small datasets", () => {
    const small = [
      item(1, "What is LoRA?"),
      item(2, "what is lora"),
      item(3, "What is QLoRA?"),
      ...Array.from({ length: 7 }, (_, i) => item(10 + i)),
    ];
    const split = splitDataset(small, { dataset: "qasper", seed: 1 });
    assert.equal(split.duplicateQuestionsDropped, 1);
    assert.equal(split.pools.eval.items.length, 2);
    assert.equal(split.pools["finetune-200"].items.length, 7);
    assert.equal(split.pools["finetune-200"].requestedSize, 200);
    const all = Object.values(split.pools).flatMap((p) => p.items.map((i) => normalizeQuestion(i.question)));
    assert.equal(all.filter((q) => q === "what is lora").length, 3, "the kept one appears in each nested pool");
  });
});

describe("splitDataset with answerableIn (NQ-open questions without a gold passage)", () => {
  it("leaves out items none of whose evidence documents is in the corpus, counts them and records it", () => {
    const answerable = Array.from({ length: 8 }, (_, i) => item(i));
    const noGold = { ...item(100), evidence: [], evidenceDocumentIds: [] };
    const goldElsewhere = { ...item(101), evidenceDocumentIds: ["not-in-corpus"] };
    const corpus = new Set(answerable.flatMap((i) => i.evidenceDocumentIds));
    const all = [...answerable, noGold, goldElsewhere];
    const split = splitDataset(all, { dataset: "nq-open", seed: 2, poolSizes: [4], evalSize: 4, answerableIn: corpus });
    const kept = new Set(Object.values(split.pools).flatMap((p) => p.items.map((i) => i.id)));
    assert.equal(kept.size, 8);
    assert.ok(!kept.has(noGold.id) && !kept.has(goldElsewhere.id));
    assert.equal(split.unanswerableQuestionsDropped, 2);
    const manifest = createManifest(split);
    assert.equal(manifest.answerableOnly, true);
    assert.equal(manifest.unanswerableQuestionsDropped, 2);

    const everything = splitDataset(all, { dataset: "nq-open", seed: 2, poolSizes: [4], evalSize: 6 });
    assert.equal(everything.answerableOnly, false);
    assert.equal(everything.unanswerableQuestionsDropped, 0);
    assert.equal(new Set(Object.values(everything.pools).flatMap((p) => p.items.map((i) => i.id))).size, 10);
  });
});

describe("splitDataset by paper (Qasper)", () => {
  const papers = Array.from({ length: 12 }, (_, p) =>
    Array.from({ length: 1 + (p % 5) }, (_, q) => ({
      ...item(p * 10 + q, `paper ${p} question ${q}?`),
      metadata: { dataset: "qasper", paper_id: `paper-${p}` },
    })),
  ).flat();

  it("puts all questions of a paper on one side: no paper in both a fine-tuning pool and evaluation", () => {
    for (const seed of [0, 1, 2, 3, 4]) {
      const split = splitDataset(papers, { dataset: "qasper", seed, poolSizes: [5, 10], evalSize: 8 });
      const paperOf = (name: string) => new Set(split.pools[name].items.map((i) => i.metadata.paper_id));
      const evalPapers = paperOf("eval");
      assert.ok(evalPapers.size > 0);
      assert.ok(split.pools.eval.items.length <= 8, "evaluation does not overshoot when a paper would");
      for (const pool of ["finetune-5", "finetune-10"]) {
        assert.ok(
          [...paperOf(pool)].every((p) => !evalPapers.has(p)),
          `seed ${seed}: ${pool} shares a paper`,
        );
      }
      for (const paper of evalPapers) {
        const all = papers.filter((i) => i.metadata.paper_id === paper).length;
        assert.equal(split.pools.eval.items.filter((i) => i.metadata.paper_id === paper).length, all);
      }
    }
  });
});

describe("split manifest", () => {
  const manifest = createManifest(splitDataset(items, { dataset: "nq-open", seed: 0 }), {
    now: new Date("2026-01-01T00:00:00Z"),
  });

  it("records the fields the trainer reads, with content hashes", () => {
    const json = JSON.parse(Buffer.from(serializeManifest(manifest)).toString("utf8"));
    assert.equal(json.version, 1);
    assert.equal(json.dataset, "nq-open");
    assert.equal(manifest.seed, 0n);
    assert.equal(json.createTime, "2026-01-01T00:00:00Z");
    assert.deepEqual(Object.keys(json.pools).sort(), ["eval", "finetune-1000", "finetune-200", "finetune-500"]);
    const first = json.pools["finetune-200"].items[0];
    assert.deepEqual(Object.keys(first).sort(), ["answer", "answers", "evidence", "id", "question", "sha256"]);
    assert.match(first.sha256, /^[0-9a-f]{64}$/);
    assert.match(json.pools.eval.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(verifyManifest(manifest), { ok: true, problems: [] });
  });

  it("detects an eval item leaked into a pool, a changed item, and broken nesting", () => {
    const leaked = structuredClone(manifest);
    leaked.pools.eval.items[0] = { ...leaked.pools["finetune-1000"].items[999] };
    leaked.pools.eval.items[1] = {
      ...leaked.pools.eval.items[1],
      question: leaked.pools["finetune-200"].items[3].question.toUpperCase(),
    };
    const result = verifyManifest(leaked);
    assert.equal(result.ok, false);
    assert.ok(
      result.problems.some((p) => p.includes("pools.eval.items[0]: id")),
      result.problems.join("\n"),
    );
    assert.ok(
      result.problems.some((p) => /pools\.eval\.items\[1\]: question .* also asked/.test(p)),
      result.problems.join("\n"),
    );
    assert.ok(result.problems.some((p) => p.includes("pools.eval.items[1] (") && p.includes("sha256")));
    assert.ok(result.problems.some((p) => p === "pools.eval.sha256: does not match its items"));

    const unnested = structuredClone(manifest);
    unnested.pools["finetune-500"].items.reverse();
    unnested.pools["finetune-500"].sha256 = manifest.pools["finetune-500"].sha256;
    const problems = verifyManifest(unnested).problems;
    assert.ok(problems.includes("pools.finetune-200 is not nested in pools.finetune-500"), problems.join("\n"));
  });

  it("round-trips through a file and refuses a tampered one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ragtune-manifest-"));
    try {
      const path = join(dir, "split.json");
      await writeManifest(path, manifest);
      assert.deepEqual(await readManifest(path), manifest);
      const tampered = (await readFile(path, "utf8")).replace(manifest.pools.eval.items[0].answer, "changed");
      await writeFile(path, tampered);
      await assert.rejects(readManifest(path), /does not verify/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("prepareSplit", () => {
  it("loads a dataset folder, splits it and records its source files with their sha256", async () => {
    const { prepareSplit } = await import("./prepare-split.js");
    const folder = join(fileURLToPath(new URL("../test/fixtures/datasets/bioasq", import.meta.url)));
    const { loaded, manifest } = await prepareSplit({ dataset: "bioasq", path: folder, seed: 3 });
    assert.equal(loaded.items.length, 4);
    assert.equal(manifest.sources?.length, 2);
    assert.match(manifest.sources![0].sha256!, /^[0-9a-f]{64}$/);
    assert.equal(manifest.pools.eval.items.length, 1);
    assert.equal(manifest.pools["finetune-200"].items.length, 3);
  });
});
