import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { chunkDocument } from "../../src/chunking/chunk-document.js";
import {
  CollectionNotFoundError,
  type CollectionSpec,
  type DocumentChunks,
  UnsupportedSearchError,
  type VectorStoreBackend,
} from "../../src/backend/vector-store-backend.js";
import { hashedBagOfWords } from "./hashed-vectors.js";

export function contractSpec(name: string, dimensions = 0): CollectionSpec {
  return {
    name,
    chunkSize: 60,
    chunkOverlap: 0,
    embeddingModel: dimensions ? "hashed-bow" : "",
    embeddingDimensions: dimensions,
    createTime: new Date("2026-01-01T00:00:00Z"),
  };
}

export function documentChunks(
  collection: string,
  id: string,
  text: string,
  metadata: Record<string, string> = {},
  dense = false,
): DocumentChunks {
  const chunks = chunkDocument({ collection, documentId: id, text }, { chunkSize: 60, chunkOverlap: 0 });
  return {
    documentId: id,
    chunks: chunks.map((c) => ({
      ...c,
      documentId: id,
      title: `title of ${id}`,
      metadata,
      ...(dense ? { vector: hashedBagOfWords(c.text) } : {}),
    })),
  };
}

export const contractCorpus: [string, string, Record<string, string>][] = [
  ["fox", "The quick brown fox jumps over the lazy dog. Foxes are small omnivorous mammals.", { dataset: "animals" }],
  ["lora", "LoRA adds low-rank adapters to a frozen model; fine-tuning then updates few weights.", { dataset: "ml" }],
  [
    "rag",
    "Retrieval augmented generation puts retrieved passages into the prompt of a language model.",
    { dataset: "ml" },
  ],
  [
    "bees",
    "Honey bees communicate the direction of flowers through a waggle dance in the hive.",
    { dataset: "animals" },
  ],
];

/** What every VectorStoreBackend must do; run against each implementation. */
export function describeBackendContract(
  label: string,
  open: () => Promise<{ backend: VectorStoreBackend; cleanup: () => Promise<void> }>,
  options: { skip?: string | false } = {},
): void {
  describe(`${label}: VectorStoreBackend contract`, { skip: options.skip }, () => {
    let backend: VectorStoreBackend;
    let cleanup: () => Promise<void>;

    before(async () => {
      ({ backend, cleanup } = await open());
      for (const name of ["lex", "dense"]) await backend.dropCollection(name);
      await backend.createCollection(contractSpec("lex"));
      await backend.upsertDocuments(
        "lex",
        contractCorpus.map(([id, text, meta]) => documentChunks("lex", id, text, meta)),
      );
    });
    after(async () => {
      await backend.dropCollection("lex").catch(() => {});
      await backend.close();
      await cleanup();
    });

    it("creates idempotently and keeps the first spec", async () => {
      const again = await backend.createCollection({ ...contractSpec("lex"), chunkSize: 999 });
      assert.equal(again.created, false);
      assert.equal(again.collection.chunkSize, 60);
      assert.ok((await backend.listCollections()).some((c) => c.name === "lex" && c.backend === backend.kind));
    });

    it("finds documents by BM25 and respects metadata filters", async () => {
      const hits = await backend.search("lex", { text: "fox dog", topK: 3, filter: {}, mode: "lexical" });
      assert.equal(hits[0].chunk.documentId, "fox");
      assert.equal(hits[0].chunk.title, "title of fox");
      assert.deepEqual(hits[0].chunk.metadata, { dataset: "animals" });
      assert.ok(hits[0].score > 0);
      const ml = await backend.search("lex", { text: "model", topK: 10, filter: { dataset: "ml" }, mode: "lexical" });
      assert.ok(ml.length > 0 && ml.every((h) => h.chunk.metadata.dataset === "ml"));
      const none = await backend.search("lex", {
        text: "model",
        topK: 10,
        filter: { dataset: "none" },
        mode: "lexical",
      });
      assert.equal(none.length, 0);
    });

    it("replaces a re-ingested document's chunks, dropping the stale tail", async () => {
      const long = documentChunks("lex", "grow", "alpha beta gamma ".repeat(20));
      await backend.upsertDocuments("lex", [long]);
      const before = (await backend.stats("lex"))!;
      await backend.upsertDocuments("lex", [documentChunks("lex", "grow", "alpha only")]);
      const afterStats = (await backend.stats("lex"))!;
      assert.equal(afterStats.documentCount, before.documentCount);
      assert.equal(afterStats.chunkCount, before.chunkCount - long.chunks.length + 1);
      const hits = await backend.search("lex", { text: "gamma", topK: 10, filter: {}, mode: "lexical" });
      assert.equal(hits.filter((h) => h.chunk.documentId === "grow").length, 0);
      assert.equal(await backend.deleteDocuments("lex", ["grow"]), 1);
    });

    it("reports counts and sizes", async () => {
      const stats = (await backend.stats("lex"))!;
      assert.equal(stats.documentCount, contractCorpus.length);
      const expected = contractCorpus.reduce((n, [id, text]) => n + documentChunks("lex", id, text).chunks.length, 0);
      assert.equal(stats.chunkCount, expected);
      assert.ok(stats.totalCharacters > 0);
      const info = (await backend.describeCollection("lex"))!;
      assert.equal(info.backend, backend.kind);
      assert.equal(info.chunkCount, expected);
    });

    it("searches dense and hybrid when the collection has vectors, and refuses them when it has none", async () => {
      await backend.createCollection(contractSpec("dense", 64));
      await backend.upsertDocuments(
        "dense",
        contractCorpus.map(([id, text, meta]) => documentChunks("dense", id, text, meta, true)),
      );
      const query = "waggle dance of honey bees";
      const dense = await backend.search("dense", {
        text: query,
        topK: 2,
        filter: {},
        mode: "dense",
        vector: hashedBagOfWords(query),
      });
      assert.equal(dense[0].chunk.documentId, "bees");
      assert.ok(dense[0].score > 0 && dense[0].score <= 1.0001);
      const hybrid = await backend.search("dense", {
        text: query,
        topK: 2,
        filter: { dataset: "animals" },
        mode: "hybrid",
        vector: hashedBagOfWords(query),
      });
      assert.equal(hybrid[0].chunk.documentId, "bees");
      assert.ok(hybrid.length <= 2 && hybrid.every((h) => h.chunk.metadata.dataset === "animals"));
      await assert.rejects(
        backend.search("lex", { text: "x", topK: 1, filter: {}, mode: "dense", vector: [1] }),
        UnsupportedSearchError,
      );
      assert.equal(await backend.dropCollection("dense"), true);
      assert.equal(await backend.dropCollection("dense"), false);
    });

    it("names the collection it cannot find", async () => {
      await assert.rejects(
        backend.search("nope", { text: "x", topK: 1, filter: {}, mode: "lexical" }),
        CollectionNotFoundError,
      );
      assert.equal(await backend.describeCollection("nope"), undefined);
      assert.equal(await backend.stats("nope"), undefined);
    });

    it("answers ping", async () => {
      await backend.ping();
    });
  });
}
