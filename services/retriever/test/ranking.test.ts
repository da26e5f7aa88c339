/**
 * The ordering contract of Search, as a user meets it: best first by score, ties by chunk id, over every committed
 * row, including while a stream is still being ingested.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { createServiceClient, createServiceServer, type ServiceServer, seededRandom } from "@ragtune/runtime";
import { LanceDbBackend } from "../src/backend/lancedb/lancedb-backend.js";
import { chunkId } from "../src/chunking/chunk-id.js";
import { Bm25Index } from "../src/lexical/bm25-index.js";
import { RetrieverServiceImpl } from "../src/service/retriever-service.js";
import { ingestStream } from "./support/ingest-stream.js";
import { type OpenedBackend, SEARCH_BACKENDS } from "./support/search-backends.js";

const CAPITALS = [
  { id: "france", text: "Paris is the capital of France and its largest city, on the Seine." },
  { id: "germany", text: "Berlin is the capital of Germany." },
  { id: "japan", text: "Tokyo is in Japan; it is the most populous metropolitan area in the world." },
];

for (const backendCase of SEARCH_BACKENDS) {
  describe(`Search ordering through gRPC over a socket: ${backendCase.name}`, { skip: backendCase.skip }, () => {
    let opened: OpenedBackend;
    let server: ServiceServer;
    let client: ReturnType<typeof createServiceClient<typeof RetrieverService>>;

    before(async () => {
      opened = await backendCase.open();
      server = createServiceServer({
        name: "retriever",
        services: [{ service: RetrieverService, impl: new RetrieverServiceImpl({ backend: opened.backend }) }],
      });
      client = createServiceClient(RetrieverService, (await server.listen("127.0.0.1:0")).url);
    });
    after(async () => {
      await server?.close(1000);
      await opened?.close();
    });

    it("puts the document that answers first, scores descending", async () => {
      await client.createCollection({ name: "capitals" });
      await client.ingestDocuments(ingestStream("capitals", CAPITALS));
      const { results } = await client.search({ collection: "capitals", query: "capital of Germany", topK: 2 });
      assert.deepEqual(
        results.map((r) => r.chunk?.documentId),
        ["germany", "france"],
      );
      assert.ok(results[0]!.score > results[1]!.score);
    });

    it("breaks ties by chunk id, the same way on every call", async () => {
      await client.createCollection({ name: "ties" });
      const same = Array.from({ length: 12 }, (_, i) => ({ id: `twin-${i}`, text: "identical twins share this text" }));
      await client.ingestDocuments(ingestStream("ties", same));
      const first = await client.search({ collection: "ties", query: "twins", topK: 12 });
      const ids = first.results.map((r) => r.chunk!.id);
      assert.deepEqual(ids, [...ids].sort());
      assert.ok(first.results.every((r) => r.score === first.results[0]!.score));
      const again = await client.search({ collection: "ties", query: "twins", topK: 5 });
      assert.deepEqual(
        again.results.map((r) => r.chunk!.id),
        ids.slice(0, 5),
      );
    });

    it("returns nothing for a query of stop words or punctuation, and refuses a query over 10,000 characters", async () => {
      const { results } = await client.search({ collection: "capitals", query: "the, of and?! is", topK: 5 });
      assert.deepEqual(results, []);
      await assert.rejects(client.search({ collection: "capitals", query: "x".repeat(10_001) }), (error: Error) =>
        /query/.test(error.message),
      );
    });

    it("sees documents re-ingested with new text and deleted by a shorter version", async () => {
      await client.createCollection({ name: "versions" });
      await client.ingestDocuments(
        ingestStream("versions", [{ id: "doc", text: `${"alpha ".repeat(400)}\n${"omega ".repeat(400)}` }]),
      );
      const before = await client.search({ collection: "versions", query: "omega" });
      assert.ok(before.results.length >= 2 && before.results.every((r) => r.chunk!.documentId === "doc"));
      await client.ingestDocuments(ingestStream("versions", [{ id: "doc", text: "alpha only now" }]));
      assert.deepEqual((await client.search({ collection: "versions", query: "omega" })).results, []);
      const { results } = await client.search({ collection: "versions", query: "alpha" });
      assert.deepEqual(
        results.map((r) => r.chunk!.text),
        ["alpha only now"],
      );
    });
  });
}

describe("Search while a stream is being ingested", () => {
  it("ranks exactly what is committed so far, every batch", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ragtune-retriever-midstream-"));
    const backend = await LanceDbBackend.open({ uri: dir });
    try {
      const service = new RetrieverServiceImpl({ backend, ingest: { maxBatchChunks: 25 } });
      const client = createClient(
        RetrieverService,
        createRouterTransport(({ service: add }) => add(RetrieverService, service)),
      );
      await client.createCollection({ name: "growing" });
      const random = seededRandom(3);
      const words = Array.from({ length: 60 }, (_, i) => `term${i}`);
      const documents = Array.from({ length: 200 }, (_, i) => ({
        id: `doc-${String(i).padStart(3, "0")}`,
        text: Array.from(
          { length: 5 + Math.floor(random() * 30) },
          () => words[Math.floor(words.length * random() ** 2)],
        ).join(" "),
      }));
      const reference = new Bm25Index();
      const comparisons: { sent: number; actual: string[][]; expected: string[][] }[] = [];
      // The in-process transport pulls the next message only after the previous one was handled, so when message
      // n is asked for, every batch completed by message n - 1 is committed.
      async function* stream() {
        for await (const message of ingestStream("growing", documents)) {
          yield message;
          if (message.item.case !== "document") continue;
          const sent = Number(message.item.value.id.slice(4)) + 1;
          if (sent % 25 !== 0) continue;
          for (const document of documents.slice(sent - 25, sent)) {
            reference.upsertDocument(document.id, [
              {
                ...document,
                id: chunkId("growing", document.id, 0),
                documentId: document.id,
                index: 0,
                startOffset: 0,
                endOffset: 0,
                title: "",
                metadata: {},
              },
            ]);
          }
          const query = `${words[sent % 60]} ${words[(sent * 7) % 60]}`;
          const { results } = await client.search({ collection: "growing", query, topK: 10 });
          // Compared after the stream: an assertion thrown in here would only surface as a broken stream.
          comparisons.push({
            sent,
            actual: results.map((r) => [r.chunk!.documentId, r.score.toFixed(9)]),
            expected: reference.search(query, 10).map((hit) => [hit.chunk.documentId, hit.score.toFixed(9)]),
          });
        }
      }
      await client.ingestDocuments(stream());
      assert.equal(comparisons.length, 8);
      for (const { sent, actual, expected } of comparisons) {
        assert.ok(expected.length > 0);
        assert.deepEqual(actual, expected, `after ${sent} documents`);
      }
    } finally {
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
