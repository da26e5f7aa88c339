import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { type Job, JobSchema, JobState } from "@ragtune/contracts/trainer";
import { createMemoryRecordStore, type RecordStore, RevisionConflictError } from "../store/record-store.js";
import { assertRejectsWith } from "../testing/fixtures.js";
import { cancelJob, placeJob } from "./job-lifecycle.js";
import { byPriority, JobQueue } from "./job-queue.js";

const queued = (jobId: string, createdMs = 0, priority = 0) =>
  create(JobSchema, { jobId, state: JobState.QUEUED, priority, createTime: timestampFromMs(createdMs) });

describe("JobQueue", () => {
  it("sees another replica's writes through the store's watch, and asks for placement when a job is queued", async () => {
    const store = createMemoryRecordStore(JobSchema);
    let queuedSignals = 0;
    const queue = new JobQueue(store, () => queuedSignals++);
    const stop = await queue.follow();
    await store.create("a", queued("a"));
    assert.equal(queue.get("a").state, JobState.QUEUED);
    assert.equal(queuedSignals, 1);
    stop();
    await store.create("b", queued("b"));
    assert.equal(queue.cached("b"), undefined);
    assert.equal((await queue.find("b"))?.jobId, "b");
  });

  it("creates a job once: a second create of the id returns the stored job, not created", async () => {
    const queue = new JobQueue(createMemoryRecordStore(JobSchema));
    assert.equal((await queue.create(queued("a", 1))).created, true);
    const again = await queue.create(queued("a", 2));
    assert.equal(again.created, false);
    assert.equal(again.job.createTime?.seconds, timestampFromMs(1).seconds);
  });

  it("re-reads and re-applies a change when another replica wrote the job in between", async () => {
    const store = createMemoryRecordStore(JobSchema);
    const mine = new JobQueue(store);
    const theirs = new JobQueue(store);
    await mine.create(queued("j"));
    await theirs.load();
    // The other replica places the job; this one has not seen that write and tries to cancel it.
    await theirs.mutate("j", (j) => placeJob(j, { nodeId: "n", gpuIndex: 0 }));
    let calls = 0;
    const { job, changed } = await mine.mutate("j", (j) => {
      calls++;
      return cancelJob(j, 5);
    });
    assert.equal(changed, true);
    assert.equal(calls, 2);
    assert.equal(job.state, JobState.CANCELLED);
    assert.equal(job.nodeId, "n");
  });

  it("gives up with UNAVAILABLE when every write conflicts, and NOT_FOUND for an unknown job", async () => {
    const inner = createMemoryRecordStore(JobSchema);
    const conflicting: RecordStore<Job> = {
      ...inner,
      update: async (key) => {
        throw new RevisionConflictError(key);
      },
    };
    const queue = new JobQueue(conflicting);
    await queue.create(queued("j"));
    await assertRejectsWith(
      queue.mutate("j", (j) => cancelJob(j, 1)),
      Code.Unavailable,
      /kept changing/,
    );
    await assertRejectsWith(
      queue.mutate("none", () => true),
      Code.NotFound,
    );
  });

  it("serialises this replica's own changes to one job", async () => {
    const queue = new JobQueue(createMemoryRecordStore(JobSchema));
    await queue.create(create(JobSchema, { jobId: "j", state: JobState.RUNNING }));
    const steps = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        queue.mutate("j", (j) => {
          j.attempt += n;
          return true;
        }),
      ),
    );
    assert.equal(queue.get("j").attempt, 10);
    assert.deepEqual(
      steps.map((s) => s.job.attempt),
      [1, 3, 6, 10],
    );
  });

  it("lists newest first in pages and filters by state", async () => {
    const queue = new JobQueue(createMemoryRecordStore(JobSchema));
    for (const [id, ms] of [
      ["old", 1000],
      ["mid", 2000],
      ["new", 3000],
    ] as const) {
      await queue.create(queued(id, ms));
    }
    await queue.mutate("mid", (j) => cancelJob(j, 4000));
    const first = queue.list([], 2, "");
    assert.deepEqual(
      first.jobs.map((j) => j.jobId),
      ["new", "mid"],
    );
    assert.equal(first.nextPageToken, "2");
    const second = queue.list([], 2, first.nextPageToken);
    assert.deepEqual(
      second.jobs.map((j) => j.jobId),
      ["old"],
    );
    assert.equal(second.nextPageToken, "");
    assert.deepEqual(
      queue.list([JobState.QUEUED], 0, "").jobs.map((j) => j.jobId),
      ["new", "old"],
    );
  });

  it("streams a job until it ends, and wakes a waiter on a matching change or at its timeout", async () => {
    const queue = new JobQueue(createMemoryRecordStore(JobSchema));
    await queue.create(queued("j"));
    const seen: JobState[] = [];
    const watching = (async () => {
      for await (const job of queue.watch("j")) seen.push(job.state);
    })();
    const placed = queue.waitFor((job) => job.state === JobState.PLACED, 60_000);
    await queue.mutate("j", (j) => placeJob(j, { nodeId: "n" }));
    await placed;
    await queue.mutate("j", (j) => cancelJob(j, 1));
    await watching;
    assert.deepEqual(seen, [JobState.QUEUED, JobState.PLACED, JobState.CANCELLED]);
    const started = Date.now();
    await queue.waitFor(() => false, 30);
    assert.ok(Date.now() - started >= 25);
    const aborted = new AbortController();
    const waiting = queue.waitFor(() => false, 60_000, aborted.signal);
    aborted.abort();
    await waiting;
  });

  it("orders by priority, then age, then id", () => {
    const jobs = [queued("b", 2, 0), queued("a", 2, 0), queued("old", 1, 0), queued("urgent", 9, 5)];
    assert.deepEqual(
      jobs.sort(byPriority).map((j) => j.jobId),
      ["urgent", "old", "a", "b"],
    );
  });
});
