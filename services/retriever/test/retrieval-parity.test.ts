/**
 * The retriever's ranking against an independent reference, on the real dataset samples, through the path the
 * gateway takes: a streamed IngestDocuments and one Search per question over a socket. The reference is a plain
 * BM25 (k1 0.9, b 0.4) written here, with its own tokenisation, over the same 1,500-character chunks.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { type LoadedDataset, loadBioAsq, loadNqOpen, loadQasper } from "@ragtune/datasets";
import { createServiceClient, createServiceServer, type ServiceServer } from "@ragtune/runtime";
import { chunkDocument } from "../src/chunking/chunk-document.js";
import { evidenceKey, scoreRetrieval } from "../src/evaluation/evidence-match.js";
import { RetrieverServiceImpl } from "../src/service/retriever-service.js";
import { ingestStream } from "./support/ingest-stream.js";
import { type OpenedBackend, SEARCH_BACKENDS } from "./support/search-backends.js";

const SHARED = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../shared/datasets");
const TOP_K = 5;
const TOLERANCE = 0.02;

/** BM25 as textbooks give it, over whitespace-and-punctuation words in lower case, every word kept. */
class ReferenceBm25 {
  private readonly postings = new Map<string, Map<number, number>>();
  private readonly lengths: number[] = [];
  constructor(
    private readonly texts: string[],
    private readonly k1 = 0.9,
    private readonly b = 0.4,
  ) {
    texts.forEach((text, i) => {
      const words = referenceWords(text);
      this.lengths.push(words.length);
      for (const word of words) {
        const list = this.postings.get(word) ?? new Map<number, number>();
        list.set(i, (list.get(i) ?? 0) + 1);
        this.postings.set(word, list);
      }
    });
  }

  search(query: string, k: number, allowed?: (i: number) => boolean): string[] {
    const n = this.texts.length;
    const averageLength = this.lengths.reduce((a, b) => a + b, 0) / n;
    const scores = new Map<number, number>();
    for (const word of new Set(referenceWords(query))) {
      const list = this.postings.get(word);
      if (!list) continue;
      const idf = Math.log(1 + (n - list.size + 0.5) / (list.size + 0.5));
      for (const [i, tf] of list) {
        if (allowed && !allowed(i)) continue;
        const norm = this.k1 * (1 - this.b + (this.b * this.lengths[i]!) / averageLength);
        scores.set(i, (scores.get(i) ?? 0) + (idf * tf * (this.k1 + 1)) / (tf + norm));
      }
    }
    return [...scores]
      .sort((x, y) => y[1] - x[1])
      .slice(0, k)
      .map(([i]) => this.texts[i]!);
  }
}

function referenceWords(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

interface Case {
  name: string;
  load: () => Promise<LoadedDataset>;
  /** Restrict each question to its own source, as the gateway does for Qasper. */
  filterKey?: string;
}

const CASES: Case[] = [
  { name: "bioasq", load: () => loadBioAsq(join(SHARED, "bioasq")) },
  {
    name: "nq-open",
    load: () =>
      loadNqOpen({
        questions: join(SHARED, "nq/NQ-open.dev.jsonl"),
        oracle: join(SHARED, "nq/nq-open-oracle.jsonl.gz"),
      }),
  },
  { name: "qasper", load: () => loadQasper(join(SHARED, "qasper/qasper-sample-6papers.json")) },
  {
    name: "qasper-own-paper",
    load: () => loadQasper(join(SHARED, "qasper/qasper-sample-6papers.json")),
    filterKey: "paper_id",
  },
];

const skip = existsSync(SHARED) ? false : `no ${SHARED}: the real dataset samples live outside the repository`;

// Qdrant takes part where a real server is configured (QDRANT_URL); its test server is a request checker.
for (const backendCase of SEARCH_BACKENDS.filter((b) => !b.standIn)) {
  describe(`retrieval parity with a reference BM25 on the shared samples, through gRPC: ${backendCase.name}`, {
    skip: skip || backendCase.skip,
  }, () => {
    let opened: OpenedBackend;
    let server: ServiceServer;
    let url: string;

    before(async () => {
      opened = await backendCase.open();
      server = createServiceServer({
        name: "retriever",
        services: [{ service: RetrieverService, impl: new RetrieverServiceImpl({ backend: opened.backend }) }],
      });
      url = (await server.listen("127.0.0.1:0")).url;
    });
    after(async () => {
      await server?.close(1000);
      await opened?.close();
    });

    for (const testCase of CASES) {
      it(`${testCase.name}: evidence hit@5 and recall@5 within ${TOLERANCE} of the reference or better`, async () => {
        const dataset = await testCase.load();
        const client = createServiceClient(RetrieverService, url);
        const collection = testCase.name;
        await client.createCollection({ name: collection, chunking: { chunkSize: 1500, chunkOverlap: 0 } });
        await client.ingestDocuments(ingestStream(collection, dataset.documents));

        const chunks = dataset.documents.flatMap((document) =>
          chunkDocument(
            { collection, documentId: document.id, text: document.text },
            { chunkSize: 1500, chunkOverlap: 0 },
          ).map((piece) => ({ text: piece.text, metadata: document.metadata })),
        );
        const reference = new ReferenceBm25(chunks.map((chunk) => chunk.text));
        const questions = dataset.items
          .map((item) => ({ item, keys: item.evidence.map((e) => evidenceKey(e)).filter((k) => k !== undefined) }))
          .filter((question) => question.keys.length > 0);
        assert.ok(questions.length >= 30, `${questions.length} questions with evidence`);

        const totals = { service: { hit: 0, recall: 0 }, reference: { hit: 0, recall: 0 } };
        for (const { item, keys } of questions) {
          const filter = testCase.filterKey ? { [testCase.filterKey]: item.metadata[testCase.filterKey]! } : {};
          const { results } = await client.search({ collection, query: item.question, topK: TOP_K, filter });
          for (let i = 1; i < results.length; i++) assert.ok(results[i - 1]!.score >= results[i]!.score, "sorted");
          const ours = scoreRetrieval(
            results.map((r) => r.chunk?.text ?? ""),
            keys,
            TOP_K,
          );
          const allowed = testCase.filterKey
            ? (i: number) => chunks[i]!.metadata[testCase.filterKey!] === filter[testCase.filterKey!]
            : undefined;
          const theirs = scoreRetrieval(reference.search(item.question, TOP_K, allowed), keys, TOP_K);
          totals.service.hit += ours.hit;
          totals.service.recall += ours.recall;
          totals.reference.hit += theirs.hit;
          totals.reference.recall += theirs.recall;
        }
        const n = questions.length;
        const figures = {
          hit: [totals.service.hit / n, totals.reference.hit / n],
          recall: [totals.service.recall / n, totals.reference.recall / n],
        };
        console.log(
          `${testCase.name}: ${n} questions, ${chunks.length} chunks; hit@5 ${figures.hit[0]!.toFixed(3)} ` +
            `(reference ${figures.hit[1]!.toFixed(3)}), recall@5 ${figures.recall[0]!.toFixed(3)} ` +
            `(reference ${figures.recall[1]!.toFixed(3)})`,
        );
        assert.ok(figures.hit[0]! >= figures.hit[1]! - TOLERANCE, `hit@5 ${figures.hit[0]} vs ${figures.hit[1]}`);
        assert.ok(
          figures.recall[0]! >= figures.recall[1]! - TOLERANCE,
          `recall@5 ${figures.recall[0]} vs ${figures.recall[1]}`,
        );
      });
    }
  });
}
