import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  contractCorpus,
  contractSpec,
  describeBackendContract,
  documentChunks,
} from "../../../test/support/backend-contract.js";
import { type FakeQdrantServer, startFakeQdrantServer } from "../../../test/support/fake-qdrant-server.js";
import { freePort } from "@ragtune/runtime";
import { BackendUnavailableError } from "../vector-store-backend.js";
import { QdrantBackend } from "./qdrant-backend.js";
import { tokenize } from "../../lexical/tokenize.js";
import { encodeDocument, encodeQuery } from "./sparse-bm25.js";

const openApi = resolve(fileURLToPath(import.meta.url), "../../../../../../../shared/qdrant/openapi-v1.19.x.json");
const noOpenApi = existsSync(openApi)
  ? false
  : `no ${openApi} (Qdrant's OpenAPI description lives outside the repository)`;

describe("sparse BM25 encoding", () => {
  it("drops stop words, saturates term frequency and gives queries unit weights", () => {
    assert.deepEqual(tokenize("The Fox and THE dog's"), ["fox", "dog", "s"]);
    const doc = encodeDocument("fox fox fox dog");
    assert.equal(doc.indices.length, 2);
    const [a, b] = doc.values;
    assert.ok(
      Math.max(a, b) > Math.min(a, b) && Math.max(a, b) < 2.2,
      "three foxes weigh more than one dog, below k1+1",
    );
    assert.deepEqual(encodeQuery("fox fox").values, [1]);
  });
});

let fake: FakeQdrantServer | undefined;
describeBackendContract(
  "QdrantBackend against an OpenAPI-checking fake",
  async () => {
    fake = await startFakeQdrantServer(openApi);
    const server = fake;
    return {
      backend: await QdrantBackend.connect({ url: server.url, upsertBatchSize: 3 }),
      cleanup: async () => {
        // Every request the backend made must have been valid for Qdrant's API.
        assert.deepEqual(server.violations, []);
        await server.close();
      },
    };
  },
  { skip: noOpenApi },
);

describe("QdrantBackend requests and errors", { skip: noOpenApi }, () => {
  let server: FakeQdrantServer;
  let backend: QdrantBackend;
  before(async () => {
    server = await startFakeQdrantServer(openApi);
    backend = await QdrantBackend.connect({ url: server.url, upsertBatchSize: 2 });
    await backend.createCollection(contractSpec("docs", 64));
  });
  after(async () => {
    await server.close();
  });

  it("sends one batch request per write: bounded upserts, then the stale-tail delete", async () => {
    const before = server.requests.length;
    await backend.upsertDocuments(
      "docs",
      contractCorpus.map(([id, text, meta]) => documentChunks("docs", id, text, meta, true)),
    );
    const sent = server.requests.slice(before).filter((r) => r.template?.includes("/points/batch"));
    assert.equal(sent.length, 1);
    const operations = (sent[0].body as { operations: Record<string, any>[] }).operations;
    assert.ok(operations.slice(0, -1).every((op) => op.upsert && op.upsert.points.length <= 2));
    assert.ok(operations.at(-1)!.delete.filter.should.length === contractCorpus.length);
    assert.match(sent[0].path, /wait=true/);
    assert.deepEqual(server.violations, []);
  });

  it("maps 5xx and 429 answers and an unreachable server to BackendUnavailableError", async () => {
    server.failNext(503);
    await assert.rejects(
      backend.search("docs", { text: "fox", topK: 1, filter: {}, mode: "lexical" }),
      BackendUnavailableError,
    );
    server.failNext(429);
    await assert.rejects(backend.stats("docs"), BackendUnavailableError);
    const port = await freePort();
    await assert.rejects(QdrantBackend.connect({ url: `http://127.0.0.1:${port}` }), BackendUnavailableError);
  });

  it("reports other documented errors with Qdrant's message", async () => {
    server.failNext(400);
    await assert.rejects(backend.deleteDocuments("docs", ["fox"]), /Qdrant answered 400: injected failure 400/);
  });
});

const live = process.env.QDRANT_URL;
describeBackendContract(
  "QdrantBackend against a live server (QDRANT_URL)",
  async () => ({
    backend: await QdrantBackend.connect({ url: live!, apiKey: process.env.QDRANT_API_KEY }),
    cleanup: async () => {},
  }),
  { skip: live ? false : "QDRANT_URL is not set (no Qdrant server here)" },
);
