import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { DatasetSpecSchema, ExperimentSpecSchema } from "@ragtune/contracts/gateway";
import { type Chunk, ChunkSchema, RetrieverService, type SearchRequest } from "@ragtune/contracts/retriever";
import { estimateTrainingTokens, loadDataset, readManifest } from "@ragtune/datasets";
import { writeDemoCorpus } from "@ragtune/demo-corpus";
import { DEFAULT_DATASET_MAX_FILE_BYTES, defaultDataRoots } from "./dataset-access.js";
import { prepareDataset } from "./dataset-preparation.js";
import { withDefaults } from "./experiment-spec.js";
import { type ContextStore, createMemoryContextStore } from "./question-contexts.js";

/**
 * A retriever holding each document as one chunk, answering searches with the documents whose metadata matches
 * the request's filter exactly (as the real one does), and keeping every request so a test can see what the
 * gateway asked for. `score` stands for an index that ranks differently; `failAfter` searches, it goes away.
 */
function documentRetriever(options: { score?: number; failAfter?: number } = {}) {
  const chunks: Chunk[] = [];
  const searches: SearchRequest[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(RetrieverService, {
      createCollection: async (req) => ({ collection: { name: req.name } }),
      getCollectionStats: async () => ({ documentCount: BigInt(new Set(chunks.map((c) => c.documentId)).size) }),
      ingestDocuments: async (stream) => {
        for await (const req of stream) {
          if (req.item.case !== "document") continue;
          const doc = req.item.value;
          chunks.push(
            create(ChunkSchema, { id: `${doc.id}#0`, documentId: doc.id, text: doc.text, metadata: doc.metadata }),
          );
        }
        return { documentsIndexed: BigInt(chunks.length) };
      },
      search: async (req) => {
        if (searches.length >= (options.failAfter ?? Number.POSITIVE_INFINITY)) {
          throw new ConnectError("retriever restarting", Code.Unavailable);
        }
        searches.push(req);
        const matches = chunks.filter((c) => Object.entries(req.filter).every(([k, v]) => c.metadata[k] === v));
        return { results: matches.slice(0, req.topK || 5).map((chunk) => ({ chunk, score: options.score ?? 1 })) };
      },
    });
  });
  return { client: createClient(RetrieverService, transport), chunks, searches };
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ragtune-prepare-"));
  await writeDemoCorpus(join(dir, "corpus"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function prepare(
  format: string,
  path: string,
  extra: Partial<{ includeUnanswerable: boolean; name: string }> = {},
  using: { retriever?: ReturnType<typeof documentRetriever>; contexts?: ContextStore } = {},
) {
  const retriever = using.retriever ?? documentRetriever();
  const dataset = create(DatasetSpecSchema, { format, name: format, paths: [path], ...extra });
  const spec = withDefaults(create(ExperimentSpecSchema, { name: "t", datasets: [dataset], finetuneSizes: [0, 20] }));
  const prepared = await prepareDataset({
    experimentId: `exp-${extra.name ?? format}-${Object.keys(extra).length}`,
    spec,
    dataset: spec.datasets[0],
    workDir: join(dir, "work"),
    createTime: new Date("2026-01-01T00:00:00Z"),
    retriever: retriever.client,
    access: { roots: [dir, ...defaultDataRoots()], maxFileBytes: DEFAULT_DATASET_MAX_FILE_BYTES },
    contexts: using.contexts?.forDataset(`exp-${extra.name ?? format}-${Object.keys(extra).length}`, dataset.name),
    signal: new AbortController().signal,
  });
  return { prepared, retriever, manifest: await readManifest(prepared.manifestUri) };
}

describe("prepareDataset", () => {
  it("leaves NQ-open questions without a gold passage out by default, records it, and keeps them on opt-out", async () => {
    const nq = join(dir, "corpus", "nq");
    const unanswerable = ["who founded a town that is in no passage", "when did an unknown river flood"];
    await appendFile(
      join(nq, "NQ-open.dev.jsonl"),
      unanswerable.map((question) => `${JSON.stringify({ question, answer: ["nobody"] })}\n`).join(""),
    );
    const { prepared, manifest } = await prepare("nq-open", nq);
    assert.equal(manifest.answerableOnly, true);
    assert.equal(manifest.unanswerableQuestionsDropped, 2);
    const asked = Object.values(manifest.pools).flatMap((p) => p.items.map((i) => i.question));
    assert.ok(!asked.some((q) => unanswerable.includes(q)), "no unanswerable question in any pool");
    assert.ok(prepared.evalItems.every((item) => item.evidenceDocumentIds.length > 0));

    const opted = await prepare("nq-open", nq, { includeUnanswerable: true });
    assert.equal(opted.manifest.answerableOnly, false);
    assert.equal(opted.manifest.unanswerableQuestionsDropped, 0);
    const all = Object.values(opted.manifest.pools).flatMap((p) => p.items.map((i) => i.question));
    assert.ok(unanswerable.every((q) => all.includes(q)));
  });

  const shared = resolve(fileURLToPath(import.meta.url), "../../../../../shared/datasets/qasper");
  const qasperSources = [
    { name: "demo", path: () => join(dir, "corpus", "qasper") },
    ...(existsSync(shared) ? [{ name: "real", path: () => shared }] : []),
  ];
  for (const source of qasperSources) {
    it(`Qasper (${source.name}): searches within the question's paper, no paper on both sides, abstains as "Unanswerable"`, async () => {
      const path = source.path();
      const loaded = await loadDataset("qasper", path);
      const paperOf = new Map(loaded.items.map((i) => [i.question, i.metadata.paper_id]));
      const paperById = new Map(loaded.items.map((i) => [i.id, i.metadata.paper_id]));
      const { prepared, retriever, manifest } = await prepare("qasper", path, { name: `qasper-${source.name}` });
      assert.ok(
        retriever.chunks.every((c) => c.metadata.paper_id === c.documentId),
        "documents carry paper_id",
      );
      assert.ok(retriever.searches.length > 0);
      for (const search of retriever.searches) {
        assert.deepEqual({ ...search.filter }, { paper_id: paperOf.get(search.query) }, search.query);
      }
      const asked = Object.values(manifest.pools).flatMap((p) => p.items.map((i) => i.id));
      for (const id of asked) {
        const contexts = (await prepared.contexts.get(id)) ?? [];
        assert.ok(contexts.length > 0 && contexts.every((c) => c.sourceId.startsWith(`${paperById.get(id)}#`)), id);
      }
      const papers = (pool: string) => new Set(manifest.pools[pool].items.map((i) => paperById.get(i.id)));
      const evalPapers = papers("eval");
      assert.ok(evalPapers.size > 0 && manifest.pools["finetune-20"].size > 0);
      assert.deepEqual(
        [...papers("finetune-20")].filter((p) => evalPapers.has(p)),
        [],
      );
      assert.equal(prepared.abstentionAnswer, "Unanswerable");
      // A pass over a training pool reads its questions, retrieved chunks and answers.
      assert.equal(prepared.poolTokens["finetune-20"], estimateTrainingTokens(manifest.pools["finetune-20"].items));
      assert.ok(prepared.poolTokens["finetune-20"] > 20 * 100, "each example carries its retrieved chunks");
    });
  }

  it("keeps each question's chunks once: a resumed preparation reads them back, whatever the index answers now", async () => {
    const nq = join(dir, "corpus", "nq");
    const store = createMemoryContextStore();
    const first = await prepare("nq-open", nq, { name: "kept" }, { contexts: store });
    const ids = Object.values(first.manifest.pools).flatMap((p) => p.items.map((i) => i.id));
    assert.equal(first.retriever.searches.length, ids.length, "one search per question of every pool");
    const evalId = first.manifest.pools.eval.items[0].id;
    const asFirst = await first.prepared.contexts.get(evalId);
    assert.ok(asFirst?.length && asFirst.every((c) => c.score === 1));

    // The index ranks differently now (a retriever rebuilt between the run and its resumption).
    const resumed = await prepare(
      "nq-open",
      nq,
      { name: "kept" },
      { contexts: store, retriever: documentRetriever({ score: 7 }) },
    );
    assert.equal(resumed.retriever.searches.length, 0, "nothing retrieved again");
    assert.deepEqual(await resumed.prepared.contexts.get(evalId), asFirst, "cells see the first run's chunks");
    assert.equal(resumed.prepared.manifestSha256, first.prepared.manifestSha256, "the same manifest for the trainer");
  });

  it("after a preparation cut off mid-retrieval, retrieves only the questions it had not kept", async () => {
    const nq = join(dir, "corpus", "nq");
    const store = createMemoryContextStore();
    const cut = documentRetriever({ failAfter: 30 });
    await assert.rejects(prepare("nq-open", nq, { name: "cut" }, { contexts: store, retriever: cut }), /restarting/);
    assert.equal(cut.searches.length, 30, "the other workers stopped when one failed");

    const again = await prepare("nq-open", nq, { name: "cut" }, { contexts: store });
    const ids = Object.values(again.manifest.pools).flatMap((p) => p.items.map((i) => i.id));
    assert.equal(again.retriever.searches.length, ids.length - 30);
    const whole = await prepare("nq-open", nq, { name: "whole" });
    for (const id of ids)
      assert.deepEqual(await again.prepared.contexts.get(id), await whole.prepared.contexts.get(id), id);
  });

  it("refuses a stored spec's dataset outside the data roots before reading or indexing anything", async () => {
    const retriever = documentRetriever();
    const dataset = create(DatasetSpecSchema, { format: "bioasq", name: "bioasq", paths: ["/etc/passwd"] });
    const spec = withDefaults(create(ExperimentSpecSchema, { name: "t", datasets: [dataset], finetuneSizes: [0] }));
    await assert.rejects(
      prepareDataset({
        experimentId: "exp-outside",
        spec,
        dataset: spec.datasets[0],
        workDir: join(dir, "work"),
        createTime: new Date("2026-01-01T00:00:00Z"),
        retriever: retriever.client,
        access: { roots: [join(dir, "corpus")], maxFileBytes: DEFAULT_DATASET_MAX_FILE_BYTES },
        signal: new AbortController().signal,
      }),
      /dataset bioasq: "\/etc\/passwd" is not under a data folder/,
    );
    assert.equal(retriever.chunks.length, 0);
  });
});
