import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  contractCorpus,
  contractSpec,
  describeBackendContract,
  documentChunks,
} from "../../../test/support/backend-contract.js";
import { LanceDbBackend } from "./lancedb-backend.js";

describeBackendContract("LanceDbBackend", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ragtune-lancedb-"));
  return { backend: await LanceDbBackend.open({ uri: dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe("LanceDbBackend on disk", () => {
  it("persists across reopen and reports its storage size", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ragtune-lancedb-"));
    try {
      const first = await LanceDbBackend.open({ uri: dir });
      await first.createCollection(contractSpec("kept"));
      await first.upsertDocuments(
        "kept",
        contractCorpus.map(([id, text, meta]) => documentChunks("kept", id, text, meta)),
      );
      await first.optimize("kept");
      await first.close();
      const reopened = await LanceDbBackend.open({ uri: dir });
      const hits = await reopened.search("kept", { text: "waggle", topK: 1, filter: {}, mode: "lexical" });
      assert.equal(hits[0].chunk.documentId, "bees");
      assert.ok((await reopened.stats("kept"))!.storageBytes > 0);
      await reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("lets a replica sharing the directory see another's writes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ragtune-lancedb-"));
    try {
      const writer = await LanceDbBackend.open({ uri: dir, readConsistencySeconds: 0 });
      const reader = await LanceDbBackend.open({ uri: dir, readConsistencySeconds: 0 });
      await writer.createCollection(contractSpec("shared"));
      await writer.upsertDocuments("shared", [documentChunks("shared", "fox", contractCorpus[0][1])]);
      assert.equal((await reader.search("shared", { text: "fox", topK: 1, filter: {}, mode: "lexical" })).length, 1);
      await writer.upsertDocuments("shared", [documentChunks("shared", "bees", contractCorpus[3][1])]);
      const hits = await reader.search("shared", { text: "waggle", topK: 1, filter: {}, mode: "lexical" });
      assert.equal(hits[0]?.chunk.documentId, "bees");
      await writer.close();
      await reader.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
