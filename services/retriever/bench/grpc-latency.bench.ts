/**
 * Ingest throughput and search latency through gRPC at 100k chunks, and the ratio to the same queries run
 * in-process against the backend. The retriever runs as its own process (src/main.ts) as in production; this
 * process is its gRPC client and also opens the same LanceDB directory in-process for the direct queries.
 * A third process serves the very same results from a backend that only replays them: the cost of gRPC and the
 * service layer alone. The three paths run interleaved, query by query, in a rotating order.
 * Embedded LanceDB, lexical BM25 (the exact in-memory index). BENCH_CHUNKS overrides the corpus size.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { IngestDocumentsRequestSchema, RetrieverService, SearchMode } from "@ragtune/contracts/retriever";
import { createServiceClient } from "@ragtune/runtime";
import { LanceDbBackend } from "../src/backend/lancedb/lancedb-backend.js";
import type { ScoredChunk } from "../src/backend/vector-store-backend.js";
import { startReplayProcess } from "./support/replay-process.js";
import { startRetrieverProcess } from "./support/retriever-process.js";
import { createSyntheticCorpus } from "./support/synthetic-corpus.js";
import { percentile, printTable } from "./support/table.js";

const TARGET_CHUNKS = Number(process.env.BENCH_CHUNKS ?? 100_000);
const CHUNK_SIZE = 1500;
const CHUNKS_PER_DOCUMENT = 4;
const QUERIES = 1000;
const WARMUP = 100;

const dir = await mkdtemp(join(tmpdir(), "ragtune-bench-grpc-"));
const retriever = await startRetrieverProcess({ RETRIEVER_DATA_DIR: dir });
try {
  const client = createServiceClient(RetrieverService, retriever.url);
  await client.createCollection({ name: "synthetic", chunking: { chunkSize: CHUNK_SIZE } });
  const corpus = createSyntheticCorpus(42);
  // Documents are cut from a pool of generated text, so the client spends its time sending, not generating.
  const pool = corpus.document(2_000_000);
  const documentCharacters = CHUNK_SIZE * CHUNKS_PER_DOCUMENT - 200;
  const documents = Math.ceil(TARGET_CHUNKS / CHUNKS_PER_DOCUMENT);
  async function* stream() {
    yield create(IngestDocumentsRequestSchema, { item: { case: "header", value: { collection: "synthetic" } } });
    for (let i = 0; i < documents; i++) {
      const start = (i * 7919) % (pool.length - documentCharacters);
      const text = pool.slice(start, start + documentCharacters);
      yield create(IngestDocumentsRequestSchema, {
        item: { case: "document", value: { id: `doc-${i}`, text, metadata: { shard: String(i % 10) } } },
      });
    }
  }
  const ingestStarted = performance.now();
  const ingested = await client.ingestDocuments(stream());
  const ingestSeconds = (performance.now() - ingestStarted) / 1000;
  const chunks = Number(ingested.chunksIndexed);

  // A second reader of the same directory serves the direct queries; its first search builds its lexical index.
  const local = await LanceDbBackend.open({ uri: dir });
  const loadStarted = performance.now();
  await local.search("synthetic", { text: "warm up", topK: 5, filter: {}, mode: "lexical" });
  const loadSeconds = (performance.now() - loadStarted) / 1000;

  const queries = Array.from({ length: QUERIES + WARMUP }, (_, i) => corpus.sentence(2 + (i % 4)));
  // The same results served by a process whose backend only replays them (same runtime server, telemetry and
  // service as the retriever): the cost of gRPC and the service layer alone, to read the ratio against.
  // Recording them runs every query once in-process; the retriever runs each once too, so that both start warm.
  const replayed = new Map<string, ScoredChunk[]>();
  for (const text of queries) {
    replayed.set(text, await local.search("synthetic", { text, topK: 5, filter: {}, mode: "lexical" }));
    await client.search({ collection: "synthetic", query: text, topK: 5, mode: SearchMode.LEXICAL });
  }
  const spec = await local.getSpec("synthetic");
  if (!spec) throw new Error("the collection is gone");
  const replay = await startReplayProcess(join(dir, "replayed.json"), spec, replayed);
  const replayClient = createServiceClient(RetrieverService, replay.url);
  const viaGrpc: number[] = [];
  const inProcess: number[] = [];
  const transportOnly: number[] = [];
  const overGrpc = (text: string) => ({ collection: "synthetic", query: text, topK: 5, mode: SearchMode.LEXICAL });
  const paths = [
    { times: viaGrpc, run: (text: string) => client.search(overGrpc(text)) },
    {
      times: inProcess,
      run: (text: string) => local.search("synthetic", { text, topK: 5, filter: {}, mode: "lexical" }),
    },
    { times: transportOnly, run: (text: string) => replayClient.search(overGrpc(text)) },
  ];
  // Interleaved, so that all paths see the same cache state and machine load; the order rotates, so that no path
  // is always the first to touch a query's postings.
  for (let i = 0; i < queries.length; i++) {
    for (let k = 0; k < paths.length; k++) {
      const path = paths[(i + k) % paths.length];
      const t = performance.now();
      await path.run(queries[i]);
      if (i >= WARMUP) path.times.push(performance.now() - t);
    }
  }
  await replay.stop();
  await local.close();
  for (const xs of [viaGrpc, inProcess, transportOnly]) xs.sort((a, b) => a - b);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const row = (path: string, xs: number[]) => ({
    path,
    p50: percentile(xs, 50).toFixed(2),
    p99: percentile(xs, 99).toFixed(2),
    mean: mean(xs).toFixed(2),
  });
  console.log(
    `\nIngest through gRPC: ${chunks} chunks (${documents} documents of ~${CHUNKS_PER_DOCUMENT} chunks) in ` +
      `${ingestSeconds.toFixed(1)} s = ${(chunks / ingestSeconds).toFixed(0)} chunks/s; ` +
      `a second process loaded the collection's lexical index from disk in ${loadSeconds.toFixed(1)} s`,
  );
  console.log(`Search latency over ${QUERIES} queries (top 5, BM25, after ${WARMUP} warm-up), ms:`);
  printTable([
    row("gRPC (client process → retriever process)", viaGrpc),
    row("in-process backend (same data)", inProcess),
    row("gRPC + service, replayed results (no search, own process)", transportOnly),
    {
      path: "ratio gRPC / in-process",
      p50: (percentile(viaGrpc, 50) / percentile(inProcess, 50)).toFixed(2),
      p99: (percentile(viaGrpc, 99) / percentile(inProcess, 99)).toFixed(2),
      mean: (mean(viaGrpc) / mean(inProcess)).toFixed(2),
    },
  ]);
  console.log(
    `BENCH retriever chunks=${chunks} search_p50_ms=${percentile(viaGrpc, 50).toFixed(2)} ` +
      `search_p99_ms=${percentile(viaGrpc, 99).toFixed(2)} ` +
      `inprocess_p50_ms=${percentile(inProcess, 50).toFixed(2)} ` +
      `grpc_over_inprocess=${(percentile(viaGrpc, 50) / percentile(inProcess, 50)).toFixed(2)} ` +
      `ingest_chunks_per_s=${(chunks / ingestSeconds).toFixed(0)} index_load_s=${loadSeconds.toFixed(1)}`,
  );
} finally {
  await retriever.stop();
  await rm(dir, { recursive: true, force: true });
}
