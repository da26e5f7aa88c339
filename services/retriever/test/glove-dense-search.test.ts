import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import { RetrieverService, SearchMode } from "@ragtune/contracts/retriever";
import { createServiceClient, type LocalNats, startTestNats } from "@ragtune/runtime";
import { GLOVE_MODEL } from "../src/embeddings/glove-embedder.js";
import { gloveVectorsPaths } from "../src/embeddings/glove-vectors.js";
import { ingestStream } from "./support/ingest-stream.js";
import { packTinyWinkTarball, TINY_DIMENSIONS } from "./support/tiny-word-vectors.js";
import { unreachableUrl } from "./support/unreachable-url.js";

const documents = [
  { id: "cat", text: "The cat sleeps." },
  { id: "car", text: "The car engine roars." },
  { id: "truck", text: "A truck." },
];

interface RetrieverProcess {
  url: string;
  stop(): Promise<number | null>;
}

/** src/main.ts as a user starts it, configured by the environment only. */
async function startRetriever(env: Record<string, string>): Promise<RetrieverProcess> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: { ...process.env, RETRIEVER_ADDR: "127.0.0.1:0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line.includes('"listening"')) {
      const { url } = JSON.parse(line) as { url: string };
      return {
        url,
        async stop() {
          const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
          child.kill("SIGTERM");
          return exited;
        },
      };
    }
  }
  throw new Error(`retriever did not start: ${stderr}`);
}

describe("RETRIEVER_EMBEDDER=glove: dense and hybrid search with no embedding server", () => {
  let nats: LocalNats;
  let dir: string;
  before(async () => {
    nats = await startTestNats();
    dir = await mkdtemp(join(tmpdir(), "ragtune-glove-retriever-"));
  });
  after(async () => {
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates a dense collection over gRPC and finds by meaning in dense and hybrid modes", async () => {
    const cacheDir = join(dir, "models");
    await mkdir(cacheDir, { recursive: true });
    const { path } = await packTinyWinkTarball(join(dir, "packed"));
    await copyFile(path, gloveVectorsPaths(cacheDir).tarball);
    const retriever = await startRetriever({
      NATS_URL: nats.url,
      RETRIEVER_DATA_DIR: join(dir, "data"),
      RETRIEVER_EMBEDDER: "glove",
      RETRIEVER_GLOVE_CACHE_DIR: cacheDir,
      // Nothing may be fetched: the vectors are cached.
      RETRIEVER_GLOVE_URL: await unreachableUrl("/wink.tgz"),
    });
    try {
      const client = createServiceClient(RetrieverService, retriever.url);
      const { collection } = await client.createCollection({ name: "animals", dense: true });
      assert.equal(collection?.embeddingModel, GLOVE_MODEL);
      assert.equal(collection?.embeddingDimensions, TINY_DIMENSIONS);
      await client.ingestDocuments(ingestStream("animals", documents));

      // "kitten" is in no document: only the word vectors connect it to the cat.
      const dense = await client.search({ collection: "animals", query: "kitten", mode: SearchMode.DENSE, topK: 3 });
      assert.equal(dense.mode, SearchMode.DENSE);
      assert.equal(dense.results[0].chunk?.documentId, "cat");
      assert.ok(dense.results.every((r) => Number.isFinite(r.score)));
      assert.ok(dense.results[0].score > dense.results[1].score);

      const hybrid = await client.search({ collection: "animals", query: "kitten", topK: 3 });
      assert.equal(hybrid.mode, SearchMode.HYBRID);
      assert.equal(hybrid.results[0].chunk?.documentId, "cat");

      const engine = await client.search({ collection: "animals", query: "engine roars", mode: SearchMode.HYBRID });
      assert.equal(engine.results[0].chunk?.documentId, "car");

      // A query with no known word still answers (cosine 0 everywhere), never NaN.
      const unknown = await client.search({ collection: "animals", query: "qwzx", mode: SearchMode.DENSE });
      assert.ok(unknown.results.every((r) => Number.isFinite(r.score)));
    } finally {
      assert.equal(await retriever.stop(), 0);
    }
  });

  it("offline with nothing cached: dense calls fail UNAVAILABLE saying why, lexical search still works", async () => {
    const cacheDir = join(dir, "empty-models");
    const url = await unreachableUrl("/wink.tgz");
    const retriever = await startRetriever({
      NATS_URL: nats.url,
      RETRIEVER_DATA_DIR: join(dir, "data-offline"),
      RETRIEVER_EMBEDDER: "glove",
      RETRIEVER_GLOVE_CACHE_DIR: cacheDir,
      RETRIEVER_GLOVE_URL: url,
    });
    try {
      const client = createServiceClient(RetrieverService, retriever.url);
      await assert.rejects(client.createCollection({ name: "dense", dense: true }), (error: ConnectError) => {
        assert.equal(error.code, Code.Unavailable);
        assert.match(error.rawMessage, new RegExp(`cannot download ${url}.*offline\\?`));
        return true;
      });
      await client.createCollection({ name: "words" });
      await client.ingestDocuments(ingestStream("words", documents));
      const { results } = await client.search({ collection: "words", query: "truck" });
      assert.equal(results[0].chunk?.documentId, "truck");
      assert.deepEqual(await readdir(cacheDir).catch(() => []), []);
    } finally {
      assert.equal(await retriever.stop(), 0);
    }
  });
});
