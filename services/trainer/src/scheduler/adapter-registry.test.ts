import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { AdapterSchema, AdapterUploadSchema, JobSchema } from "@ragtune/contracts/trainer";
import { createMemoryRecordStore } from "../store/record-store.js";
import { assertRejectsWith } from "../testing/fixtures.js";
import { AdapterRegistry, adapterOf } from "./adapter-registry.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");

const job = (jobId: string, baseModel: string, manifestSha256 = "") =>
  create(JobSchema, { jobId, spec: { baseModel, trainingData: { manifestUri: "m.json", manifestSha256 } } });

describe("adapter registry", () => {
  it("records the upload under the job's id with its base model, and the manifest hash when the agent sent none", () => {
    const upload = create(AdapterUploadSchema, { uri: "nats-obj://a/j.tar", sha256: "ab", sizeBytes: 7n });
    const adapter = adapterOf(job("j", "mistral-7b", "feed"), upload, T0);
    assert.equal(adapter.adapterId, "j");
    assert.equal(adapter.jobId, "j");
    assert.equal(adapter.baseModel, "mistral-7b");
    assert.equal(adapter.uri, "nats-obj://a/j.tar");
    assert.equal(adapter.sizeBytes, 7n);
    assert.equal(adapter.trainingDataSha256, "feed");
    const hashed = create(AdapterUploadSchema, { uri: "u", trainingDataSha256: "c0ffee" });
    assert.equal(adapterOf(job("j", "m", "feed"), hashed, T0).trainingDataSha256, "c0ffee");
  });

  it("lists newest first, by base model, and gets one by id (NOT_FOUND otherwise)", async () => {
    const registry = new AdapterRegistry(createMemoryRecordStore(AdapterSchema));
    const upload = create(AdapterUploadSchema, { uri: "u" });
    await registry.save(adapterOf(job("first", "llama"), upload, T0));
    await registry.save(adapterOf(job("second", "mistral"), upload, T0 + 1000));
    await registry.save(adapterOf(job("third", "llama"), upload, T0 + 2000));
    assert.deepEqual(
      (await registry.list("")).map((a) => a.adapterId),
      ["third", "second", "first"],
    );
    assert.deepEqual(
      (await registry.list("llama")).map((a) => a.adapterId),
      ["third", "first"],
    );
    assert.equal((await registry.get("second")).baseModel, "mistral");
    await assertRejectsWith(registry.get("none"), Code.NotFound);
  });
});
