import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { dirname, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { CollectionIndexedSchema } from "@ragtune/contracts/events";
import { Health, HealthCheckResponse_ServingStatus } from "@ragtune/contracts/grpc-health";
import { RetrieverService } from "@ragtune/contracts/retriever";
import {
  connectNats,
  createServiceClient,
  createServiceServer,
  EVENTS_STREAM,
  type LocalNats,
  type NatsHandle,
  type ServiceServer,
  startTestNats,
} from "@ragtune/runtime";
import { LanceDbBackend } from "../src/backend/lancedb/lancedb-backend.js";
import { COLLECTION_INDEXED_SUBJECT } from "../src/service/event-publisher.js";
import { RetrieverServiceImpl } from "../src/service/retriever-service.js";
import { ingestStream } from "./support/ingest-stream.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

const documents = [
  {
    id: "a",
    text: "Aspirin inhibits cyclooxygenase and reduces the production of prostaglandins.",
    metadata: { dataset: "bio" },
  },
  {
    id: "b",
    text: "The Eiffel Tower was completed in 1889 for the World's Fair in Paris.",
    metadata: { dataset: "wiki" },
  },
];

describe("retriever server over a real socket, with real NATS", () => {
  let nats: LocalNats;
  let handle: NatsHandle;
  let dir: string;
  let backend: LanceDbBackend;
  let server: ServiceServer;
  let url: string;

  before(async () => {
    nats = await startTestNats();
    handle = await connectNats({ url: nats.url, name: "retriever-test" });
    dir = await mkdtemp(join(tmpdir(), "ragtune-retriever-server-"));
    backend = await LanceDbBackend.open({ uri: dir });
    server = createServiceServer({
      name: "retriever",
      services: [{ service: RetrieverService, impl: new RetrieverServiceImpl({ backend, events: handle }) }],
      readiness: [{ name: "backend", check: () => backend.ping() }],
    });
    url = (await server.listen("127.0.0.1:0")).url;
  });
  after(async () => {
    await server.close(1000);
    await backend.close();
    await handle.close();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("indexes, searches, announces collection.indexed on JetStream, and maps errors to gRPC codes", async () => {
    const client = createServiceClient(RetrieverService, url);
    await client.createCollection({ name: "socket" });
    const ingested = await client.ingestDocuments(ingestStream("socket", documents));
    assert.equal(ingested.documentsIndexed, 2n);
    const { results } = await client.search({ collection: "socket", query: "prostaglandins aspirin" });
    assert.equal(results[0].chunk?.documentId, "a");
    assert.equal(results[0].chunk?.metadata.dataset, "bio");

    const stored = await handle.jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: COLLECTION_INDEXED_SUBJECT });
    const event = fromBinary(CollectionIndexedSchema, stored!.data);
    assert.equal(event.collection, "socket");
    assert.equal(event.documentsIndexed, 2n);
    assert.equal(event.chunksIndexed, 2n);
    assert.ok(event.meta?.eventId);

    await assert.rejects(client.search({ collection: "socket", query: "x", topK: 5000 }), (error: ConnectError) => {
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, /^top_k: /);
      return true;
    });
    await assert.rejects(client.search({ collection: "missing", query: "x" }), (error: ConnectError) => {
      assert.equal(error.code, Code.NotFound);
      return true;
    });
  });
  it("serves a client built from the .proto alone (@grpc/grpc-js + proto-loader), client streaming included", async () => {
    const definition = protoLoader.loadSync("ragtune/retriever/v1/retriever.proto", {
      includeDirs: [resolve(repoRoot, "proto")],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as any;
    const client = new loaded.ragtune.retriever.v1.RetrieverService(
      new URL(url).host,
      grpc.credentials.createInsecure(),
    );
    const unary = (method: string, request: object) =>
      new Promise<any>((done, fail) =>
        client[method](request, (error: Error | null, reply: any) => (error ? fail(error) : done(reply))),
      );
    try {
      const created = await unary("CreateCollection", { name: "interop", chunking: { chunk_size: 200 } });
      assert.equal(created.collection.chunking.chunk_size, 200);
      const ingested = await new Promise<any>((done, fail) => {
        const call = client.IngestDocuments((error: Error | null, reply: any) => (error ? fail(error) : done(reply)));
        call.write({ header: { collection: "interop" } });
        for (const d of documents) call.write({ document: d });
        call.end();
      });
      assert.equal(ingested.documents_indexed, "2");
      const found = await unary("Search", { collection: "interop", query: "Eiffel Tower 1889", top_k: 1 });
      assert.equal(found.results[0].chunk.document_id, "b");
      assert.equal(found.mode, "SEARCH_MODE_LEXICAL");
      await assert.rejects(unary("Search", { collection: "interop", query: "" }), (error: grpc.ServiceError) => {
        assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
        // connect-node percent-encodes grpc-message with encodeURIComponent (":" → "%3A"); grpc-js decodes it
        // with decodeURI, which leaves reserved characters encoded. The field name is there either way.
        assert.match(decodeURIComponent(error.details), /^query: /);
        return true;
      });
    } finally {
      client.close();
    }
  });
});

describe("retriever process (src/main.ts)", () => {
  it("starts from the environment, answers health and RPCs, and stops on SIGTERM", async () => {
    const nats = await startTestNats();
    const dir = await mkdtemp(join(tmpdir(), "ragtune-retriever-main-"));
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      env: { ...process.env, NATS_URL: nats.url, RETRIEVER_ADDR: "127.0.0.1:0", RETRIEVER_DATA_DIR: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    try {
      const lines = createInterface({ input: child.stdout });
      let listening: { url: string } | undefined;
      for await (const line of lines) {
        if (line.includes('"listening"')) {
          listening = JSON.parse(line);
          break;
        }
      }
      assert.ok(listening, `no listening line; stderr: ${stderr}`);
      const health = createServiceClient(Health, listening.url);
      let status = HealthCheckResponse_ServingStatus.UNKNOWN;
      for (let i = 0; i < 50 && status !== HealthCheckResponse_ServingStatus.SERVING; i++) {
        status = (await health.check({ service: "" })).status;
        if (status !== HealthCheckResponse_ServingStatus.SERVING) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, HealthCheckResponse_ServingStatus.SERVING);
      const client = createServiceClient(RetrieverService, listening.url);
      await client.createCollection({ name: "proc" });
      await client.ingestDocuments(ingestStream("proc", documents));
      const { results } = await client.search({ collection: "proc", query: "Eiffel Tower" });
      assert.equal(results[0].chunk?.documentId, "b");
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      assert.equal(await exited, 0, stderr);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
