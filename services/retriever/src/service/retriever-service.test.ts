import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client, createClient, createRouterTransport } from "@connectrpc/connect";
import { RetrieverService, SearchMode } from "@ragtune/contracts/retriever";
import { type FakeEmbeddingsServer, startFakeEmbeddingsServer } from "../../test/support/fake-embeddings-server.js";
import { ingestStream } from "../../test/support/ingest-stream.js";
import { LanceDbBackend } from "../backend/lancedb/lancedb-backend.js";
import { createOpenAiEmbedder } from "../embeddings/openai-embedder.js";
import { RetrieverServiceImpl } from "./retriever-service.js";

function recordingPublisher() {
  const published: { subject: string; message: Record<string, unknown> }[] = [];
  return {
    published,
    async publishEvent<D extends DescMessage>(subject: string, _schema: D, message: MessageInitShape<D>) {
      published.push({ subject, message: message as Record<string, unknown> });
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: Code, messagePart: string | RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectError, `not a ConnectError: ${error}`);
    assert.equal(Code[error.code], Code[code], error.message);
    if (typeof messagePart === "string") assert.ok(error.rawMessage.includes(messagePart), error.rawMessage);
    else assert.match(error.rawMessage, messagePart);
    return true;
  });
}

const papers = [
  {
    id: "p1",
    title: "LoRA",
    text: "Low-rank adaptation freezes the pretrained weights and trains small adapter matrices.",
    metadata: { dataset: "ml" },
  },
  {
    id: "p2",
    title: "RAG",
    text: "Retrieval augmented generation conditions a generator on retrieved passages.",
    metadata: { dataset: "ml" },
  },
  {
    id: "p3",
    title: "Bees",
    text: "Honey bees perform a waggle dance that tells other bees where flowers are.",
    metadata: { dataset: "bio" },
  },
];

describe("RetrieverServiceImpl (in-memory transport)", () => {
  let dir: string;
  let backend: LanceDbBackend;
  let embeddings: FakeEmbeddingsServer;
  let events: ReturnType<typeof recordingPublisher>;
  let client: Client<typeof RetrieverService>;
  let lexicalOnly: Client<typeof RetrieverService>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ragtune-retriever-svc-"));
    backend = await LanceDbBackend.open({ uri: dir });
    embeddings = await startFakeEmbeddingsServer();
    const embedder = createOpenAiEmbedder({ url: embeddings.url, model: "hashed-bow", apiKey: "sk-test" });
    events = recordingPublisher();
    const impl = new RetrieverServiceImpl({ backend, embedder, events, ingest: { maxBatchChunks: 4 } });
    client = createClient(
      RetrieverService,
      createRouterTransport(({ service }) => service(RetrieverService, impl)),
    );
    const plain = new RetrieverServiceImpl({ backend });
    lexicalOnly = createClient(
      RetrieverService,
      createRouterTransport(({ service }) => service(RetrieverService, plain)),
    );
  });
  after(async () => {
    await backend.close();
    await embeddings.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    for (const c of (await client.listCollections({})).collections) await client.deleteCollection({ name: c.name });
    events.published.length = 0;
  });

  it("creates collections with the paper's defaults, idempotently, and refuses a conflicting re-create", async () => {
    const { collection } = await client.createCollection({ name: "papers" });
    assert.equal(collection?.chunking?.chunkSize, 1500);
    assert.equal(collection?.chunking?.chunkOverlap, 0);
    assert.equal(collection?.backend, "lancedb");
    assert.equal(collection?.embeddingDimensions, 0);
    const again = await client.createCollection({ name: "papers", chunking: { chunkSize: 1500 } });
    assert.equal(again.collection?.createTime?.seconds, collection?.createTime?.seconds);
    await rejectsWith(
      client.createCollection({ name: "papers", chunking: { chunkSize: 500 } }),
      Code.AlreadyExists,
      "chunk_size 1500",
    );
    assert.deepEqual(
      (await client.listCollections({})).collections.map((c) => c.name),
      ["papers"],
    );
    await client.deleteCollection({ name: "papers" });
    await rejectsWith(client.describeCollection({ name: "papers" }), Code.NotFound, '"papers"');
    await rejectsWith(client.deleteCollection({ name: "papers" }), Code.NotFound, '"papers"');
  });

  it("ingests a stream, searches it with filters, reports stats and announces the indexing", async () => {
    await client.createCollection({ name: "papers", chunking: { chunkSize: 50 } });
    const response = await client.ingestDocuments(ingestStream("papers", papers));
    assert.equal(response.documentsIndexed, 3n);
    assert.ok(response.chunksIndexed >= 6n, `chunks ${response.chunksIndexed}`);
    const { results, mode } = await client.search({ collection: "papers", query: "waggle dance", topK: 2 });
    assert.equal(mode, SearchMode.LEXICAL);
    assert.equal(results[0].chunk?.documentId, "p3");
    assert.equal(results[0].chunk?.title, "Bees");
    const chunk = results[0].chunk!;
    assert.equal(Array.from(papers[2].text).slice(chunk.startOffset, chunk.endOffset).join(""), chunk.text);
    const filtered = await client.search({
      collection: "papers",
      query: "bees adapter",
      topK: 10,
      filter: { dataset: "ml" },
    });
    assert.ok(filtered.results.length > 0 && filtered.results.every((r) => r.chunk?.metadata.dataset === "ml"));
    const stats = await client.getCollectionStats({ name: "papers" });
    assert.equal(stats.documentCount, 3n);
    assert.equal(stats.chunkCount, response.chunksIndexed);
    assert.ok(stats.meanChunkCharacters > 0 && stats.meanChunkCharacters <= 50);
    assert.equal(events.published.length, 1);
    assert.equal(events.published[0].subject, "ragtune.retriever.collection.indexed");
    assert.equal(events.published[0].message.collection, "papers");
    assert.equal(events.published[0].message.documentsIndexed, 3n);
  });

  it("re-indexes idempotently: same chunk ids, same counts", async () => {
    await client.createCollection({ name: "papers", chunking: { chunkSize: 50 } });
    await client.ingestDocuments(ingestStream("papers", papers));
    const first = await client.search({ collection: "papers", query: "honey bees flowers", topK: 3 });
    const statsBefore = await client.getCollectionStats({ name: "papers" });
    await client.ingestDocuments(ingestStream("papers", papers));
    const second = await client.search({ collection: "papers", query: "honey bees flowers", topK: 3 });
    assert.deepEqual(
      second.results.map((r) => r.chunk?.id),
      first.results.map((r) => r.chunk?.id),
    );
    const statsAfter = await client.getCollectionStats({ name: "papers" });
    assert.equal(statsAfter.chunkCount, statsBefore.chunkCount);
    assert.equal(statsAfter.documentCount, statsBefore.documentCount);
  });

  it("leaves only whole documents when the stream breaks halfway", async () => {
    await client.createCollection({ name: "broken", chunking: { chunkSize: 50 } });
    const documents = Array.from({ length: 12 }, (_, i) => ({
      id: `doc-${i}`,
      text: `document ${i} `.repeat(12),
    }));
    await assert.rejects(client.ingestDocuments(ingestStream("broken", documents, { breakAfter: 7 })));
    await client.createCollection({ name: "whole", chunking: { chunkSize: 50 } });
    const reference = await client.ingestDocuments(ingestStream("whole", documents.slice(0, 1)));
    const chunksPerDocument = Number(reference.chunksIndexed);
    assert.ok(chunksPerDocument > 1);
    const stats = await client.getCollectionStats({ name: "broken" });
    // Batches of 4 chunks here: some documents committed before the break, none after it, none in part.
    assert.ok(stats.documentCount > 0n && stats.documentCount <= 7n, `documents ${stats.documentCount}`);
    assert.equal(Number(stats.chunkCount), Number(stats.documentCount) * chunksPerDocument);
    for (let i = 0; i < 12; i++) {
      const hits = await client.search({ collection: "broken", query: `document ${i}`, topK: 50, filter: {} });
      const own = hits.results.filter((r) => r.chunk?.documentId === `doc-${i}`).length;
      assert.ok(own === 0 || own === chunksPerDocument, `doc-${i} has ${own} of ${chunksPerDocument} chunks`);
    }
  });

  it("searches dense and hybrid through the embeddings endpoint", async () => {
    const { collection } = await client.createCollection({ name: "dense", dense: true, chunking: { chunkSize: 200 } });
    assert.equal(collection?.embeddingModel, "hashed-bow");
    assert.equal(collection?.embeddingDimensions, 64);
    await client.ingestDocuments(ingestStream("dense", papers));
    assert.equal(embeddings.requests.at(-1)?.authorization, "Bearer sk-test");
    const hybrid = await client.search({ collection: "dense", query: "pretrained weights adapter" });
    assert.equal(hybrid.mode, SearchMode.HYBRID);
    assert.equal(hybrid.results[0].chunk?.documentId, "p1");
    const dense = await client.search({
      collection: "dense",
      query: "retrieved passages",
      mode: SearchMode.DENSE,
      topK: 1,
    });
    assert.equal(dense.results[0].chunk?.documentId, "p2");
    embeddings.failWith(503);
    await rejectsWith(
      client.search({ collection: "dense", query: "bees", mode: SearchMode.DENSE }),
      Code.Unavailable,
      "503",
    );
    embeddings.failWith(undefined);
    await rejectsWith(
      lexicalOnly.search({ collection: "dense", query: "bees", mode: SearchMode.DENSE }),
      Code.FailedPrecondition,
      "RETRIEVER_EMBEDDINGS_URL",
    );
    await rejectsWith(lexicalOnly.createCollection({ name: "dense2", dense: true }), Code.FailedPrecondition, "dense");
  });

  it("answers bad input with INVALID_ARGUMENT naming the field, and unknown collections with NOT_FOUND", async () => {
    await client.createCollection({ name: "papers" });
    await rejectsWith(client.search({ collection: "papers", query: "  " }), Code.InvalidArgument, /^query: /);
    await rejectsWith(
      client.search({ collection: "papers", query: "x", topK: 1001 }),
      Code.InvalidArgument,
      /^top_k: /,
    );
    await rejectsWith(
      client.search({ collection: "papers", query: "x", mode: 9 as SearchMode }),
      Code.InvalidArgument,
      /^mode: /,
    );
    await rejectsWith(
      client.search({ collection: "papers", query: "x", mode: SearchMode.DENSE }),
      Code.InvalidArgument,
      /^mode: /,
    );
    await rejectsWith(client.search({ collection: "nope", query: "x" }), Code.NotFound, '"nope"');
    await rejectsWith(client.search({ collection: "bad name!", query: "x" }), Code.InvalidArgument, /^collection: /);
    await rejectsWith(client.createCollection({ name: "" }), Code.InvalidArgument, /^name: /);
    await rejectsWith(
      client.createCollection({ name: "c", chunking: { chunkSize: 10 } }),
      Code.InvalidArgument,
      /^chunking\.chunk_size: /,
    );
    await rejectsWith(
      client.createCollection({ name: "c", chunking: { chunkSize: 100, chunkOverlap: 100 } }),
      Code.InvalidArgument,
      /^chunking\.chunk_overlap: /,
    );
    await rejectsWith(client.ingestDocuments(ingestStream("nope", papers)), Code.NotFound, '"nope"');
    await rejectsWith(
      client.ingestDocuments(ingestStream("papers", [{ id: "huge", text: "a ".repeat(5_000_001) }])),
      Code.InvalidArgument,
      /^document\.text: /,
    );
    await rejectsWith(
      client.ingestDocuments(ingestStream("papers", [{ id: "", text: "x" }])),
      Code.InvalidArgument,
      /^document\.id: /,
    );
    await rejectsWith(client.getCollectionStats({ name: "nope" }), Code.NotFound, '"nope"');
    await rejectsWith(
      client.search({ collection: "papers", query: "x", filter: { "paper.id": "1" } }),
      Code.InvalidArgument,
      /^filter: key "paper\.id"/,
    );
  });
});
