/**
 * Peak memory of a retriever process (src/main.ts, embedded LanceDB) while a client streams it a corpus far
 * larger than one ingest batch: the server chunks and commits in bounded batches, so what grows with the corpus is
 * the in-memory lexical index (the chunks' text and postings), not the stream. BENCH_STREAM_MB sets the corpus size
 * (default 150 MB of text).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { IngestDocumentsRequestSchema, RetrieverService } from "@ragtune/contracts/retriever";
import { createServiceClient } from "@ragtune/runtime";
import { startRetrieverProcess } from "./support/retriever-process.js";
import { createSyntheticCorpus } from "./support/synthetic-corpus.js";
import { printTable } from "./support/table.js";

const CORPUS_MB = Number(process.env.BENCH_STREAM_MB ?? 150);
const DOCUMENT_CHARACTERS = 5_000_000;

const dir = await mkdtemp(join(tmpdir(), "ragtune-bench-stream-"));
const retriever = await startRetrieverProcess({ RETRIEVER_DATA_DIR: dir });
try {
  const client = createServiceClient(RetrieverService, retriever.url);
  await client.createCollection({ name: "stream" });
  const before = retriever.memory();

  // Documents are cut from a pool of generated text, so the client spends its time sending, not generating.
  const pool = createSyntheticCorpus(7).document(DOCUMENT_CHARACTERS + 100_000);
  const documents = Math.ceil((CORPUS_MB * 1e6) / DOCUMENT_CHARACTERS);
  let sentCharacters = 0;
  async function* stream() {
    yield create(IngestDocumentsRequestSchema, { item: { case: "header", value: { collection: "stream" } } });
    for (let i = 0; i < documents; i++) {
      const start = (i * 7919) % 100_000;
      const text = `document ${i} ${pool.slice(start, start + DOCUMENT_CHARACTERS)}`;
      sentCharacters += text.length;
      yield create(IngestDocumentsRequestSchema, { item: { case: "document", value: { id: `big-${i}`, text } } });
    }
  }
  let sampledPeak = before.rssMb;
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, retriever.memory().rssMb);
  }, 100);
  const started = performance.now();
  const result = await client.ingestDocuments(stream());
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const after = retriever.memory();
  console.log(`\nStreaming ingest into one retriever process (gRPC, embedded LanceDB, 1500-character chunks):`);
  printTable([
    {
      "corpus MB": (sentCharacters / 1e6).toFixed(0),
      documents: Number(result.documentsIndexed),
      chunks: Number(result.chunksIndexed),
      seconds: seconds.toFixed(1),
      "chunks/s": (Number(result.chunksIndexed) / seconds).toFixed(0),
      "server RSS before MB": before.rssMb.toFixed(0),
      "server peak RSS MB": Math.max(after.peakMb, sampledPeak).toFixed(0),
      "server RSS after MB": after.rssMb.toFixed(0),
    },
  ]);
  console.log(
    `BENCH retriever stream_corpus_mb=${(sentCharacters / 1e6).toFixed(0)} ` +
      `stream_peak_rss_mb=${Math.max(after.peakMb, sampledPeak).toFixed(0)} ` +
      `stream_chunks_per_s=${(Number(result.chunksIndexed) / seconds).toFixed(0)}`,
  );
} finally {
  await retriever.stop();
  await rm(dir, { recursive: true, force: true });
}
