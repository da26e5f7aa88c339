import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { DatasetSpecSchema, ExperimentSpecSchema } from "@ragtune/contracts/gateway";
import { type Chunk, ChunkSchema, RetrieverService, type SearchRequest } from "@ragtune/contracts/retriever";
import { loadDataset, readManifest } from "@ragtune/datasets";
import { writeDemoCorpus } from "@ragtune/demo-corpus";
import { DEFAULT_DATASET_MAX_FILE_BYTES, defaultDataRoots } from "./dataset-access.js";
import { prepareDataset } from "./dataset-preparation.js";
import { withDefaults } from "./experiment-spec.js";

/**
 * A retriever holding each document as one chunk, answering searches with the documents whose metadata matches
 * the request's filter exactly (as the real one does), and keeping every request so a test can see what the
 * gateway asked for.
 */
function documentRetriever() {
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
        searches.push(req);
        const matches = chunks.filter((c) => Object.entries(req.filter).every(([k, v]) => c.metadata[k] === v));
        return { results: matches.slice(0, req.topK || 5).map((chunk) => ({ chunk, score: 1 })) };
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
) {
  const retriever = documentRetriever();
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
      for (const [id, contexts] of prepared.contexts) {
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
    });
  }

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
