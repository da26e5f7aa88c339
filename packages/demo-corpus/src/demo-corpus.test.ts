import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type DatasetName, type LoadedDataset, loadDataset, splitDataset } from "@ragtune/datasets";
import {
  DEMO_CORPUS_MANIFEST,
  DEMO_CORPUS_VERSION,
  ensureDemoCorpus,
  renderDemoCorpus,
  writeDemoCorpus,
} from "./write-demo-corpus.js";

/** Dataset name → its folder in the corpus (the layout `ragtune run --data DIR` reads). */
const FOLDERS: Record<string, string> = { bioasq: "bioasq", "nq-open": "nq", qasper: "qasper" };
const EXPECTED = {
  bioasq: { items: 1400, documents: 600 },
  "nq-open": { items: 1400, documents: 800 },
  qasper: { items: 1400, documents: 200 },
};

const words = (text: string) =>
  text
    .toLowerCase()
    .match(/[\p{L}\p{N}]+/gu)
    ?.filter((w) => !["a", "an", "the", "of", "in", "is", "by", "on", "and"].includes(w)) ?? [];

/** Answers that name a polarity rather than a span ("yes", BioASQ's "Yes. <sentence>" keeps its sentence). */
function spanOf(answer: string): string | undefined {
  if (/^(yes|no)$/i.test(answer.trim())) return undefined;
  return answer.replace(/^(Yes|No)\.\s+/, "");
}

describe("demo corpus", () => {
  let dir: string;
  const loaded = new Map<string, LoadedDataset>();
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "demo-corpus-"));
    await writeDemoCorpus(join(dir, "corpus"), 0);
    for (const [name, folder] of Object.entries(FOLDERS)) {
      loaded.set(name, await loadDataset(name as DatasetName, join(dir, "corpus", folder)));
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("is byte-identical for one seed and different for another", () => {
    const first = renderDemoCorpus(7);
    const again = renderDemoCorpus(7);
    const other = renderDemoCorpus(8);
    assert.deepEqual([...first.keys()], [...again.keys()]);
    for (const [path, bytes] of first) {
      assert.ok(bytes.equals(again.get(path)!), `${path} differs between two runs with seed 7`);
      if (path !== "README.md") assert.ok(!bytes.equals(other.get(path)!), `${path} is the same for seeds 7 and 8`);
    }
  });

  it("loads through the real loaders with the expected counts and splits into 200/500/1000 + 200 eval", () => {
    for (const [name, expected] of Object.entries(EXPECTED)) {
      const data = loaded.get(name)!;
      assert.equal(data.items.length, expected.items, `${name} items`);
      assert.equal(data.documents.length, expected.documents, `${name} documents`);
      assert.deepEqual(data.skipped, {}, `${name} skipped`);
      const split = splitDataset(data.items, { dataset: name as DatasetName, seed: 0, evalSize: 200 });
      assert.equal(split.duplicateQuestionsDropped, 0, `${name} repeated questions`);
      for (const size of [200, 500, 1000]) assert.equal(split.pools[`finetune-${size}`].items.length, size);
      // Qasper splits by paper (7 questions each here): evaluation takes whole papers up to the 200 asked for.
      const evalSize = split.pools.eval.items.length;
      if (name === "qasper") assert.ok(evalSize > 200 - 7 && evalSize <= 200, `qasper eval ${evalSize}`);
      else assert.equal(evalSize, 200);
    }
  });

  it("puts every answer in its gold documents and evidence", () => {
    for (const [name, data] of loaded) {
      const byId = new Map(data.documents.map((d) => [d.id, d.text]));
      for (const item of data.items) {
        assert.ok(item.evidence.length > 0, `${name} ${item.id} has no evidence`);
        const gold = item.evidenceDocumentIds.map((id) => byId.get(id) ?? "").join("\n");
        for (const evidence of item.evidence)
          assert.ok(gold.includes(evidence), `${name} ${item.id}: evidence not in gold`);
        const spans = item.answers.map(spanOf).filter((a): a is string => a !== undefined);
        if (item.type !== "yesno" && item.type !== "boolean")
          assert.ok(spans.length > 0, `${name} ${item.id}: no span`);
        // A summary's ideal answer joins sentences of two articles: each sentence must be in the gold.
        for (const sentence of spans.flatMap((span) => span.split(/(?<=\.)\s+(?=[A-Z])/))) {
          assert.ok(gold.includes(sentence), `${name} ${item.id}: "${sentence}" not in its gold documents`);
          assert.ok(
            item.evidence.join("\n").includes(sentence),
            `${name} ${item.id}: "${sentence}" not in its evidence`,
          );
        }
      }
    }
  });

  it("never gives an answer away in the question", () => {
    for (const [name, data] of loaded) {
      for (const item of data.items) {
        const question = new Set(words(item.question));
        for (const span of item.answers.map(spanOf)) {
          if (span === undefined) continue;
          const novel = words(span).filter((w) => !question.has(w));
          assert.ok(novel.length > 0, `${name} ${item.id}: "${span}" can be read off "${item.question}"`);
        }
      }
    }
  });

  it("has distractors: another document shares a rare word of the question", () => {
    for (const [name, data] of loaded) {
      const docWords = data.documents.map((d) => ({ id: d.id, words: new Set(words(d.text)) }));
      const df = new Map<string, number>();
      for (const doc of docWords) for (const w of doc.words) df.set(w, (df.get(w) ?? 0) + 1);
      let withDistractor = 0;
      for (const item of data.items) {
        // Rare: in at most 5 documents, e.g. a compound, town or system name, not "kinase" or "founded".
        const rare = words(item.question).filter((w) => (df.get(w) ?? 0) > 0 && df.get(w)! <= 5);
        const gold = new Set(item.evidenceDocumentIds);
        if (docWords.some((d) => !gold.has(d.id) && rare.some((w) => d.words.has(w)))) withDistractor++;
      }
      // Qasper's dataset-name questions point at one paper only; its distractors sit in the same paper.
      // Qasper's dataset-name questions point at one paper only; their distractors sit in the same paper.
      const floor = { bioasq: 0.95, "nq-open": 0.9, qasper: 0.5 }[name]!;
      console.log(`${name}: ${withDistractor}/${data.items.length} questions have a distractor document`);
      assert.ok(withDistractor / data.items.length >= floor, `${name}: ${withDistractor}/${data.items.length}`);
    }
  });

  it("is written once and rewritten when the generator version, the seed or a file changes", async () => {
    const target = join(dir, "cached");
    assert.equal((await ensureDemoCorpus(target, 0)).generated, true);
    assert.equal((await ensureDemoCorpus(target, 0)).generated, false);
    assert.equal((await ensureDemoCorpus(target, 1)).generated, true);
    const manifestPath = join(target, DEMO_CORPUS_MANIFEST);
    const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
    assert.equal(manifest.version, DEMO_CORPUS_VERSION);
    await writeFile(manifestPath, JSON.stringify({ ...manifest, version: DEMO_CORPUS_VERSION - 1 }));
    assert.equal((await ensureDemoCorpus(target, 1)).generated, true);
    await writeFile(join(target, "nq", "NQ-open.dev.jsonl"), "");
    assert.equal((await ensureDemoCorpus(target, 1)).generated, true);
    assert.equal((await ensureDemoCorpus(target, 1)).generated, false);
  });
});
