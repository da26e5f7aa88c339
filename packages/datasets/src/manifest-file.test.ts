import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createManifest } from "./manifest.js";
import { ManifestError, parseManifest, serializeManifest, writeManifest } from "./manifest-file.js";
import { loadTrainingPool } from "./manifest-source.js";
import { splitDataset } from "./split.js";
import { sha256Hex } from "./text.js";
import type { QaItem } from "./types.js";

const items: QaItem[] = Array.from({ length: 6 }, (_, i) => ({
  id: `q${i}`,
  question: `Which river flows through town ${i}?`,
  answer: `river ${i}`,
  answers: [`river ${i}`],
  evidence: [`River ${i} flows through town ${i}.`],
  evidenceDocumentIds: [`d${i}`],
  type: "factoid",
  metadata: {},
}));

const split = splitDataset(items, { dataset: "nq-open", seed: 5, poolSizes: [4], evalSize: 2 });
const contexts = new Map(
  items.map((item, i) => [
    item.id,
    [
      { text: `River ${i} flows through town ${i}.`, sourceId: `d${i}#0`, score: 2.5 },
      { text: "An unrelated chunk.", sourceId: "noise#3", score: 0.25 },
    ],
  ]),
);
const manifest = createManifest(split, { now: new Date("2026-02-03T04:05:06Z"), contexts });

describe("split manifest file", () => {
  it("writes retrieved contexts on fine-tuning items as {text, sourceId, score}, none on eval items", () => {
    const json = JSON.parse(Buffer.from(serializeManifest(manifest)).toString("utf8"));
    const trained = json.pools["finetune-4"].items[0];
    assert.deepEqual(trained.contexts, contexts.get(trained.id));
    assert.equal(json.pools.eval.items[0].contexts, undefined);
    assert.equal(json.seed, "5", "uint64 in the JSON mapping is a string");
  });

  it("reads back exactly what it wrote", () => {
    assert.deepEqual(parseManifest(serializeManifest(manifest)), manifest);
  });

  it("refuses a field the schema does not have, naming it, instead of dropping it", () => {
    const json = JSON.parse(Buffer.from(serializeManifest(manifest)).toString("utf8"));
    json.pools["finetune-4"].items[0].contexts[0].sourceID = "typo";
    assert.throws(
      () => parseManifest(JSON.stringify(json)),
      (error: unknown) => error instanceof ManifestError && /sourceID/.test(error.message),
    );
  });

  it("refuses other versions, non-JSON and items without an answer", () => {
    const json = JSON.parse(Buffer.from(serializeManifest(manifest)).toString("utf8"));
    assert.throws(() => parseManifest(JSON.stringify({ ...json, version: 2 })), /version 2 is not supported/);
    assert.throws(() => parseManifest("{"), /not JSON/);
    // Whatever a wrong file holds stays out of the message: V8's own quotes the text it choked on.
    assert.throws(
      () => parseManifest("root:x:0:0:root:/root:/bin/bash\n"),
      (error: Error) => /not JSON/.test(error.message) && !error.message.includes("root:x"),
    );
    assert.throws(
      () => parseManifest(JSON.stringify({ ...json, version: "secret-value" })),
      (error: Error) => /does not match/.test(error.message) && !error.message.includes("secret-value"),
    );
    json.pools.eval.items[1].answer = "";
    assert.throws(
      () => parseManifest(JSON.stringify(json)),
      /pools\.eval\.items\[1\] \(q\d\): no question or no answer/,
    );
  });

  it("loads a job's pool from the file, checking the manifest's sha256", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ragtune-manifest-file-"));
    try {
      const path = join(dir, "split.json");
      const bytes = await writeManifest(path, manifest);
      const ref = { manifestUri: path, pool: "finetune-4", manifestSha256: sha256Hex(bytes) };
      const { pool } = await loadTrainingPool(ref, { roots: [dir] });
      assert.equal(pool.items[0].contexts[0].sourceId, contexts.get(pool.items[0].id)?.[0].sourceId);
      await assert.rejects(
        loadTrainingPool({ ...ref, manifestSha256: "0".repeat(64) }, { roots: [dir] }),
        ManifestError,
      );
      await assert.rejects(
        loadTrainingPool({ ...ref, pool: "finetune-9" }, { roots: [dir] }),
        /pool "finetune-9" is not in the manifest/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
