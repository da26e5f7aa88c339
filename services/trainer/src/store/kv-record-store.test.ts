import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { JobSchema, JobState } from "@ragtune/contracts/trainer";
import type { KV } from "@nats-io/kv";
import { connectNats, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import { createKvRecordStore, openKvBucket } from "./kv-record-store.js";
import { RevisionConflictError, type Versioned } from "./record-store.js";

describe("KV record store on NATS JetStream", () => {
  let server: LocalNats;
  let nats: NatsHandle;
  before(async () => {
    server = await startTestNats();
    nats = await connectNats({ url: server.url, name: "kv-store-test" });
  });
  after(async () => {
    await nats.close();
    await server.stop();
  });

  it("creates once, updates only from the revision read, and tells watchers", async () => {
    const store = createKvRecordStore(await openKvBucket(nats.kvm, "test_jobs"), JobSchema);
    const seen: Versioned<unknown>[] = [];
    const stop = await store.watch((_key, record) => seen.push(record));
    const job = create(JobSchema, { jobId: "a", state: JobState.QUEUED });
    const r1 = await store.create("a", job);
    await assert.rejects(store.create("a", job), RevisionConflictError);
    const r2 = await store.update("a", { ...job, state: JobState.PLACED }, r1);
    await assert.rejects(store.update("a", { ...job, state: JobState.RUNNING }, r1), RevisionConflictError);
    const stored = await store.get("a");
    assert.equal(stored?.revision, r2);
    assert.equal(stored?.value.state, JobState.PLACED);
    assert.deepEqual(
      (await store.list()).map((r) => r.value.jobId),
      ["a"],
    );
    for (let i = 0; i < 50 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      seen.map((r) => r.revision),
      [r1, r2],
    );
    stop();
  });

  it("answers UNAVAILABLE when NATS does not answer, so a submission is retried rather than failed INTERNAL", async () => {
    // A KV whose every request times out, as nats.js reports it (TimeoutError "timeout").
    const timeout = () => Promise.reject(Object.assign(new Error("timeout"), { name: "TimeoutError" }));
    const kv = { get: timeout, create: timeout, update: timeout, put: timeout, keys: timeout } as unknown as KV;
    const store = createKvRecordStore(kv, JobSchema);
    const job = create(JobSchema, { jobId: "a", state: JobState.QUEUED });
    const unavailable = (error: unknown) => {
      assert.ok(error instanceof ConnectError, String(error));
      assert.equal(error.code, Code.Unavailable);
      assert.match(error.message, /trainer store \(NATS KV\): \w+ "(a|\*)" failed: timeout/);
      return true;
    };
    await assert.rejects(store.get("a"), unavailable);
    await assert.rejects(store.create("a", job), unavailable);
    await assert.rejects(store.update("a", job, 1), unavailable);
    await assert.rejects(store.put("a", job), unavailable);
    await assert.rejects(store.list(), unavailable);
  });
});
