import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { DocumentSchema } from "@ragtune/contracts/retriever";
import type { CollectionSpec, DocumentChunks } from "../backend/vector-store-backend.js";
import { createIngestBatcher } from "./ingest-batcher.js";

const spec: CollectionSpec = {
  name: "c",
  chunkSize: 50,
  chunkOverlap: 0,
  embeddingModel: "",
  embeddingDimensions: 0,
  createTime: new Date(0),
};
const doc = (id: string, text = "one two three four five six seven eight nine ten eleven twelve thirteen") =>
  create(DocumentSchema, { id, text });

describe("createIngestBatcher", () => {
  it("commits batches in order, one at a time, and keeps a document's last version", async () => {
    const committed: string[][] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const batcher = createIngestBatcher({
      spec,
      limits: { maxBatchChunks: 4 },
      commit: async (documents: DocumentChunks[]) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        committed.push(documents.map((d) => `${d.documentId}:${d.chunks[0]?.text.split(" ")[0]}`));
        inFlight--;
      },
    });
    await batcher.add(doc("a"));
    await batcher.add(doc("a", "replaced text here"));
    for (const id of ["b", "c", "d", "e"]) await batcher.add(doc(id));
    await batcher.flush();
    assert.equal(maxInFlight, 1);
    assert.deepEqual(committed.flat()[0], "a:replaced");
    assert.deepEqual(committed.flat().slice(1), ["b:one", "c:one", "d:one", "e:one"]);
    assert.deepEqual(batcher.counts(), { documents: 6, chunks: 1 + 4 * 2 });
  });

  it("surfaces a failed commit and commits nothing after it", async () => {
    const committed: string[] = [];
    let calls = 0;
    const batcher = createIngestBatcher({
      spec,
      limits: { maxBatchChunks: 2 },
      commit: async (documents) => {
        if (++calls === 1) throw new Error("disk full");
        committed.push(...documents.map((d) => d.documentId));
      },
    });
    await assert.rejects(async () => {
      for (const id of ["a", "b", "c", "d"]) await batcher.add(doc(id));
      await batcher.flush();
    }, /disk full/);
    assert.deepEqual(committed, []);
    assert.deepEqual(batcher.counts(), { documents: 0, chunks: 0 });
  });
});
