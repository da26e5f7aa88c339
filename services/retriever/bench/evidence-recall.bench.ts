/**
 * Evidence recall@5, hit@5 and MRR@10 on the real samples in ../shared/datasets, on the production path only:
 * the retriever runs as its own process (src/main.ts, embedded LanceDB), each corpus is streamed in through
 * IngestDocuments over gRPC and every question is one Search over gRPC, with the paper's 1,500-character chunks.
 * Lexical BM25 always; dense and hybrid (RRF) as well when an embedder is configured: RETRIEVER_EMBEDDER=glove
 * (the embedded word vectors, fetched once) or RETRIEVER_EMBEDDINGS_URL (an OpenAI-compatible server).
 * Also times the gateway's prepare step on BioASQ: ingest, then one search per question, 8 in flight.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RetrieverService, SearchMode } from "@ragtune/contracts/retriever";
import { createServiceClient } from "@ragtune/runtime";
import { evidenceKey, scoreRetrieval } from "../src/evaluation/evidence-match.js";
import { ingestStream } from "../test/support/ingest-stream.js";
import { BENCH_DATASETS, sharedDatasetsMissing } from "./support/bench-datasets.js";
import { startRetrieverProcess } from "./support/retriever-process.js";
import { printTable } from "./support/table.js";

const TOP_K = 5;
const MRR_DEPTH = 10;
/** Searches the gateway keeps in flight while preparing a dataset (gateway/src/experiments/dataset-preparation). */
const GATEWAY_CONCURRENCY = 8;
const PREPARE_QUESTIONS = 1200;

const missing = sharedDatasetsMissing();
if (missing) {
  console.log(`evidence recall: skipped (${missing})`);
  process.exit(0);
}

const dense = Boolean(process.env.RETRIEVER_EMBEDDINGS_URL) || (process.env.RETRIEVER_EMBEDDER ?? "none") !== "none";
const modes: [string, SearchMode][] = [["lexical", SearchMode.LEXICAL]];
if (dense) modes.push(["dense", SearchMode.DENSE], ["hybrid", SearchMode.HYBRID]);
else console.log("no embedder configured (RETRIEVER_EMBEDDER=glove or RETRIEVER_EMBEDDINGS_URL): lexical BM25 only");

const dir = await mkdtemp(join(tmpdir(), "ragtune-bench-recall-"));
const retriever = await startRetrieverProcess({ RETRIEVER_DATA_DIR: dir });
const client = createServiceClient(RetrieverService, retriever.url);
const rows: Record<string, string | number>[] = [];
const benchLines: string[] = [];

try {
  for (const dataset of BENCH_DATASETS) {
    const loaded = await dataset.load();
    const collection = dataset.label.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/-+$/, "");
    await client.createCollection({ name: collection, dense });
    const ingestStarted = performance.now();
    const ingested = await client.ingestDocuments(ingestStream(collection, loaded.documents));
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
        const filter = dataset.filterKey ? { [dataset.filterKey]: item.metadata[dataset.filterKey]! } : {};
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
      benchLines.push(
        `BENCH retriever dataset=${collection} mode=${modeLabel} hit_at_5=${(hit / n).toFixed(3)} ` +
          `recall_at_5=${(recall / n).toFixed(3)} mrr_at_10=${(reciprocal / n).toFixed(3)}`,
      );
    }
  }
  console.log(`\nEvidence retrieval over gRPC, chunks of 1500 characters, top ${TOP_K} (MRR over top ${MRR_DEPTH}):`);
  printTable(rows);

  // The gateway's prepare step on the BioASQ sample, into a fresh collection: ingest, then retrieve for every
  // question with the gateway's concurrency.
  const bioasq = await BENCH_DATASETS.find((d) => d.label === "bioasq")!.load();
  const questions = bioasq.items.slice(0, PREPARE_QUESTIONS).map((item) => item.question);
  const prepareStarted = performance.now();
  await client.createCollection({ name: "prepare-bioasq" });
  await client.ingestDocuments(ingestStream("prepare-bioasq", bioasq.documents));
  const queue = [...questions];
  await Promise.all(
    Array.from({ length: GATEWAY_CONCURRENCY }, async () => {
      for (let q = queue.shift(); q !== undefined; q = queue.shift()) {
        await client.search({ collection: "prepare-bioasq", query: q, topK: TOP_K });
      }
    }),
  );
  const prepareSeconds = (performance.now() - prepareStarted) / 1000;
  console.log(
    `\nPrepare step on BioASQ: ${bioasq.documents.length} documents ingested and ${questions.length} questions ` +
      `retrieved (${GATEWAY_CONCURRENCY} in flight) in ${prepareSeconds.toFixed(2)} s`,
  );
  for (const line of benchLines) console.log(line);
  console.log(`BENCH retriever prepare_${questions.length}_questions_s=${prepareSeconds.toFixed(2)}`);
} finally {
  await retriever.stop();
  await rm(dir, { recursive: true, force: true });
}
