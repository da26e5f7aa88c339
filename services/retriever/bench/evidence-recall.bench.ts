/**
 * Evidence recall@5, hit@5 and MRR@10 on the real samples in ../shared/datasets, through the retriever service
 * (in-process transport) over LanceDB with the paper's 1,500-character chunks. Lexical BM25 always; dense and
 * hybrid too when RETRIEVER_EMBEDDINGS_URL names an OpenAI-compatible embeddings server.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { IngestDocumentsRequestSchema, RetrieverService, SearchMode } from "@ragtune/contracts/retriever";
import { LanceDbBackend } from "../src/backend/lancedb/lancedb-backend.js";
import { createOpenAiEmbedder } from "../src/embeddings/openai-embedder.js";
import { evidenceKey, scoreRetrieval } from "../src/evaluation/evidence-match.js";
import { RetrieverServiceImpl } from "../src/service/retriever-service.js";
import { BENCH_DATASETS, sharedDatasetsMissing } from "./support/bench-datasets.js";
import { printTable } from "./support/table.js";

const TOP_K = 5;
const MRR_DEPTH = 10;

const missing = sharedDatasetsMissing();
if (missing) {
  console.log(`evidence recall: skipped (${missing})`);
  process.exit(0);
}

const embeddingsUrl = process.env.RETRIEVER_EMBEDDINGS_URL;
const embedder = embeddingsUrl
  ? createOpenAiEmbedder({
      url: embeddingsUrl,
      model: process.env.RETRIEVER_EMBEDDINGS_MODEL ?? "text-embedding-3-small",
      apiKey: process.env.RETRIEVER_EMBEDDINGS_API_KEY,
    })
  : undefined;
const modes: [string, SearchMode][] = [["lexical (BM25)", SearchMode.LEXICAL]];
if (embedder) modes.push(["dense", SearchMode.DENSE], ["hybrid (RRF)", SearchMode.HYBRID]);
else
  console.log(
    "RETRIEVER_EMBEDDINGS_URL not set: lexical BM25 only (the baseline); set it to add dense and hybrid rows",
  );

const dir = await mkdtemp(join(tmpdir(), "ragtune-bench-recall-"));
const backend = await LanceDbBackend.open({ uri: dir });
const service = new RetrieverServiceImpl({ backend, embedder });
const client = createClient(
  RetrieverService,
  createRouterTransport(({ service: add }) => add(RetrieverService, service)),
);
const rows: Record<string, string | number>[] = [];

try {
  for (const dataset of BENCH_DATASETS) {
    const loaded = await dataset.load();
    const collection = dataset.label.replace(/[^A-Za-z0-9_-]+/g, "-");
    await client.createCollection({ name: collection, dense: Boolean(embedder) });
    const ingestStarted = performance.now();
    async function* stream() {
      yield create(IngestDocumentsRequestSchema, { item: { case: "header", value: { collection } } });
      for (const d of loaded.documents) {
        yield create(IngestDocumentsRequestSchema, {
          item: { case: "document", value: { id: d.id, text: d.text, title: d.title, metadata: d.metadata } },
        });
      }
    }
    const ingested = await client.ingestDocuments(stream());
    await backend.optimize(collection);
    const ingestSeconds = (performance.now() - ingestStarted) / 1000;
    const questions = loaded.items
      .map((item) => ({ item, keys: item.evidence.map((e) => evidenceKey(e)).filter((k) => k !== undefined) }))
      .filter((q) => q.keys.length > 0);
    for (const [modeLabel, mode] of modes) {
      let recall = 0;
      let hit = 0;
      let reciprocal = 0;
      const started = performance.now();
      for (const { item, keys } of questions) {
        const filter = dataset.filterKey ? { [dataset.filterKey]: item.metadata[dataset.filterKey] } : {};
        const { results } = await client.search({ collection, query: item.question, topK: MRR_DEPTH, mode, filter });
        const scores = scoreRetrieval(
          results.map((r) => r.chunk?.text ?? ""),
          keys,
          TOP_K,
        );
        recall += scores.recall;
        hit += scores.hit;
        reciprocal += scores.reciprocalRank;
      }
      const n = questions.length;
      rows.push({
        dataset: dataset.label,
        mode: modeLabel,
        questions: n,
        documents: loaded.documents.length,
        chunks: Number(ingested.chunksIndexed),
        "recall@5": (recall / n).toFixed(3),
        "hit@5": (hit / n).toFixed(3),
        "MRR@10": (reciprocal / n).toFixed(3),
        "ingest s": ingestSeconds.toFixed(1),
        "search ms (mean)": ((performance.now() - started) / n).toFixed(2),
      });
    }
  }
  console.log(`\nEvidence retrieval, chunks of 1500 characters, no overlap, top ${TOP_K} (MRR over top ${MRR_DEPTH}):`);
  printTable(rows);
} finally {
  await backend.close();
  await rm(dir, { recursive: true, force: true });
}
