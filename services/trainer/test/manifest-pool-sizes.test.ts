/**
 * The pool sizes the trainer checks submissions against: a grid's jobs submitted at once share one read of their
 * manifest, a manifest named with its sha256 is not read again, and a failed read is not remembered. The manifest
 * is written by the gateway's writer (fixtures/write-manifest.ts) and served as an Object Store object would be.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TrainingDataRefSchema } from "@ragtune/contracts/common";
import { ManifestError } from "@ragtune/datasets";
import { createManifestPoolSizes } from "../src/manifest-access.js";
import { writeManifest } from "./fixtures/write-manifest.js";

describe("pool sizes at submission", () => {
  let dir: string;
  let bytes: Uint8Array;
  let sha256: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ragtune-pool-sizes-"));
    const written = await writeManifest(dir, 5);
    bytes = await readFile(written.path);
    sha256 = written.sha256;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A reader over one object whose reads are counted; `fail` makes the next read throw. */
  function objectStore() {
    const store = { reads: 0, fail: false };
    const poolSizes = createManifestPoolSizes({
      roots: [],
      readObject: async () => {
        store.reads++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (store.fail) {
          store.fail = false;
          throw new Error("timeout");
        }
        return bytes;
      },
    });
    return { store, poolSizes };
  }
  const ref = (pool: string, manifestSha256: string) =>
    create(TrainingDataRefSchema, { manifestUri: "nats-obj://manifests/exp.bioasq.split.json", pool, manifestSha256 });

  it("reads a manifest once for jobs submitted together, and once at all when its sha256 is named", async () => {
    const { store, poolSizes } = objectStore();
    const sizes = await Promise.all(Array.from({ length: 12 }, () => poolSizes(ref("finetune-5", sha256))));
    assert.deepEqual(sizes, Array(12).fill(5));
    assert.equal(store.reads, 1);
    assert.equal(await poolSizes(ref("finetune-5", sha256)), 5);
    assert.equal(store.reads, 1);
    await assert.rejects(poolSizes(ref("finetune-9", sha256)), (error: Error) => {
      assert.ok(error instanceof ManifestError);
      assert.match(error.message, /pool "finetune-9" is not in the manifest \(it has finetune-5\)/);
      return true;
    });
    assert.equal(store.reads, 1);
  });

  it("reads again when no sha256 pins the content, and after a failed read", async () => {
    const { store, poolSizes } = objectStore();
    await Promise.all([poolSizes(ref("finetune-5", "")), poolSizes(ref("finetune-5", ""))]);
    assert.equal(store.reads, 1);
    await poolSizes(ref("finetune-5", ""));
    assert.equal(store.reads, 2);
    store.fail = true;
    await assert.rejects(poolSizes(ref("finetune-5", sha256)), /timeout/);
    assert.equal(await poolSizes(ref("finetune-5", sha256)), 5);
    assert.equal(store.reads, 4);
  });
});
