import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { loadBioAsq } from "./bioasq.js";
import { DatasetFormatError } from "./errors.js";
import { loadDataset } from "./load-dataset.js";
import { loadNaturalQuestions, loadNqOpen } from "./nq.js";
import { loadQasper } from "./qasper.js";

const fixtures = resolve(fileURLToPath(import.meta.url), "../../test/fixtures");
const fixture = (...parts: string[]) => join(fixtures, ...parts);

async function rejectsNaming(promise: Promise<unknown>, file: string, record: string, field: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DatasetFormatError, String(error));
    assert.equal(error.file, file);
    assert.equal(error.record, record);
    assert.equal(error.field, field);
    assert.ok(error.message.startsWith(`${file}: ${record}: ${field}: `), error.message);
    return true;
  });
}

describe("loadBioAsq", () => {
  it("reads task-B JSON files into items and a snippet corpus grouped by PubMed article", async () => {
    const loaded = await loadBioAsq(fixture("datasets/bioasq"));
    assert.equal(loaded.dataset, "bioasq");
    assert.equal(loaded.sources.length, 2);
    assert.deepEqual(
      loaded.items.map((i) => [i.id, i.type]),
      [
        ["fx0001", "yesno"],
        ["fx0002", "factoid"],
        ["fx0003", "summary"],
        ["fx0004", "list"],
      ],
    );
    assert.deepEqual(loaded.skipped, { "duplicate question id": 1 });
    const [yesno, factoid, summary, list] = loaded.items;
    assert.equal(yesno.answer, "Yes, ragweed pollen commonly causes hay fever.");
    assert.deepEqual(yesno.answers, ["Yes, ragweed pollen commonly causes hay fever.", "yes"]);
    assert.deepEqual(factoid.answers, [
      "Aspirin inhibits cyclooxygenase.",
      "Cyclooxygenase (COX).",
      "cyclooxygenase",
      "COX",
      "prostaglandin-endoperoxide synthase",
    ]);
    // Repeated snippets count once; evidence names the articles.
    assert.deepEqual(factoid.evidence, [
      "Aspirin irreversibly inhibits cyclooxygenase (COX) enzymes.",
      "Antihistamines do not act on cyclooxygenase.",
    ]);
    assert.deepEqual(factoid.evidenceDocumentIds, ["pubmed:1000002", "pubmed:1000001"]);
    assert.deepEqual(summary.answers, ["Insulin regulates blood glucose."]);
    assert.deepEqual(list.answers.slice(1), ["aspirin", "ibuprofen", "naproxen"]);
    const article = loaded.documents.find((d) => d.id === "pubmed:1000002")!;
    assert.equal(
      article.text,
      "Aspirin irreversibly inhibits cyclooxygenase (COX) enzymes.\nIbuprofen and naproxen are reversible cyclooxygenase inhibitors.",
    );
    assert.deepEqual(article.metadata, { dataset: "bioasq", pmid: "1000002" });
    assert.equal(loaded.documents.length, 3);
  });

  it("names file, record and field of a bad question", async () => {
    const file = fixture("datasets/bad/bioasq-bad-body.json");
    await rejectsNaming(loadBioAsq(file), file, "questions[1]", "body");
  });
});

describe("loadNaturalQuestions (simplified jsonl)", () => {
  it("takes long answers as evidence and short or yes/no answers as answers, skipping unanswered questions", async () => {
    const loaded = await loadNaturalQuestions(fixture("datasets/nq/simplified.jsonl"));
    assert.deepEqual(
      loaded.items.map((i) => i.id),
      ["101", "102", "104"],
    );
    assert.deepEqual(loaded.skipped, { "no annotated answer": 1 });
    const [first, yesNo, machine] = loaded.items;
    assert.deepEqual(first.answers, ["Ada Lovelace"]);
    assert.deepEqual(first.evidence, [
      "Ada Lovelace was an English mathematician who wrote the first computer program for the Analytical Engine .",
    ]);
    assert.deepEqual(yesNo.answers, ["Yes"]);
    assert.deepEqual(machine.answers, ["Analytical Engine"]);
    // Two questions on one page: one document, without HTML tokens.
    assert.equal(loaded.documents.length, 2);
    const page = loaded.documents.find((d) => d.title === "Ada Lovelace")!;
    assert.equal(first.evidenceDocumentIds[0], page.id);
    assert.ok(!/<\/?P>|<H1>/.test(page.text), page.text);
    assert.ok(page.text.includes(first.evidence[0]));
  });

  it("reads .gz too", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ragtune-nq-"));
    try {
      const gz = join(dir, "simplified.jsonl.gz");
      await writeFile(gz, gzipSync(await readFile(fixture("datasets/nq/simplified.jsonl"))));
      assert.equal((await loadNaturalQuestions(gz)).items.length, 3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("names the line and field of a bad token span", async () => {
    const file = fixture("datasets/bad/nq-bad-end-token.jsonl");
    await rejectsNaming(loadNaturalQuestions(file), file, "line 3", "annotations[0].long_answer.end_token");
  });

  it("names the line of broken JSON", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ragtune-nq-"));
    try {
      const file = join(dir, "broken.jsonl");
      await writeFile(
        file,
        `${(await readFile(fixture("datasets/nq/simplified.jsonl"), "utf8")).split("\n")[0]}\n{"example_id": 5,\n`,
      );
      await rejectsNaming(loadNaturalQuestions(file), file, "line 2", "(json)");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("loadNqOpen", () => {
  it("joins NQ-open questions with the oracle's gold passages and drops repeated question texts", async () => {
    const loaded = await loadNqOpen({
      questions: fixture("datasets/nq-open/questions.jsonl"),
      oracle: fixture("datasets/nq-open/oracle.jsonl"),
    });
    assert.deepEqual(
      loaded.items.map((i) => i.question),
      ["who wrote the first computer program", "when was ada lovelace born", "what is the capital of atlantis"],
    );
    assert.deepEqual(loaded.skipped, { "repeated question": 1 });
    assert.deepEqual(loaded.items[1].evidence, ["She was born in 1815 in London."]);
    assert.equal(loaded.items[2].evidence.length, 0);
    // Passages shared by two questions are one document.
    assert.equal(loaded.documents.length, 2);
    assert.ok(loaded.documents.some((d) => d.id === loaded.items[0].evidenceDocumentIds[0]));
  });

  it("uses the oracle's own questions when given no questions file", async () => {
    const loaded = await loadNqOpen({ oracle: fixture("datasets/nq-open/oracle.jsonl") });
    assert.equal(loaded.items.length, 2);
    assert.deepEqual(loaded.items[0].answers, ["Ada Lovelace"]);
  });
});

describe("loadQasper", () => {
  it("makes one document per paper and one item per question with every answer type", async () => {
    const loaded = await loadQasper(fixture("datasets/qasper/papers.json"));
    assert.equal(loaded.documents.length, 1);
    const paper = loaded.documents[0];
    assert.deepEqual(paper.metadata, { dataset: "qasper", paper_id: "2401.00001" });
    assert.ok(paper.text.startsWith("We study adapters"));
    assert.ok(paper.text.includes("FLOAT SELECTED: Table 1: Dataset statistics."));
    const byId = Object.fromEntries(loaded.items.map((i) => [i.id, i]));
    assert.deepEqual(byId["q-extractive"].answers, ["small adapters", "adapters on a frozen model"]);
    assert.equal(byId["q-extractive"].type, "extractive");
    assert.deepEqual(byId["q-yesno"].answers, ["Yes"]);
    assert.deepEqual(byId["q-free"].evidence, [
      "Our dataset contains 1,000 questions written by experts.",
      "FLOAT SELECTED: Table 1: Dataset statistics.",
    ]);
    assert.deepEqual(byId["q-unanswerable"].answers, ["Unanswerable"]);
    for (const item of loaded.items) {
      for (const evidence of item.evidence) assert.ok(paper.text.includes(evidence.replace(/^FLOAT SELECTED: /, "")));
    }
  });

  it("names the paper, question and annotation of an answer with no content", async () => {
    const file = fixture("datasets/bad/qasper-no-answer.json");
    await rejectsNaming(loadQasper(file), file, "paper 2401.00001 qas[2]", "answers[0].answer");
  });
});

describe("loadDataset", () => {
  it("finds each dataset's files in a folder", async () => {
    assert.equal((await loadDataset("bioasq", fixture("datasets/bioasq"))).items.length, 4);
    assert.equal((await loadDataset("nq", fixture("datasets/nq"))).items.length, 3);
    const nqOpen = await loadDataset("nq-open", fixture("datasets/nq-open"));
    assert.equal(nqOpen.items.length, 3);
    assert.equal(nqOpen.sources.length, 2);
    assert.equal((await loadDataset("qasper", fixture("datasets/qasper"))).items.length, 4);
  });
});
