import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { type Job, JobSchema, JobState } from "@ragtune/contracts/trainer";
import { createMemoryRecordStore } from "../store/record-store.js";
import { assertRejectsWith } from "../testing/fixtures.js";
import { acquireJob } from "./agent-long-poll.js";
import { placeJob } from "./job-lifecycle.js";
import { JobQueue } from "./job-queue.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");

function setUp(nodeIds = ["n1", "n2"]) {
  const jobs = new JobQueue(createMemoryRecordStore(JobSchema));
  const started: string[] = [];
  const parts = {
    jobs,
    nodes: { has: (id: string) => nodeIds.includes(id) },
    events: { jobStarted: async (job: Job) => void started.push(`${job.jobId}#${job.attempt}`) },
    now: () => T0,
  };
  const place = async (jobId: string, nodeId: string, priority = 0) => {
    await jobs.create(create(JobSchema, { jobId, state: JobState.QUEUED, priority, createTime: timestampFromMs(T0) }));
    await jobs.mutate(jobId, (j) => placeJob(j, { nodeId }));
  };
  return { jobs, parts, started, place };
}

describe("agent long poll", () => {
  it("hands the node its highest-priority placed job as a new attempt, and nothing placed elsewhere", async () => {
    const { parts, started, place, jobs } = setUp();
    await place("other-node", "n2", 9);
    await place("low", "n1", 0);
    await place("high", "n1", 5);
    const job = await acquireJob(parts, "n1", 0);
    assert.equal(job?.jobId, "high");
    assert.equal(job?.state, JobState.RUNNING);
    assert.equal(job?.attempt, 1);
    assert.equal(jobs.get("high").startTime?.seconds, timestampFromMs(T0).seconds);
    assert.deepEqual(started, ["high#1"]);
    assert.equal((await acquireJob(parts, "n1", 0))?.jobId, "low");
    assert.equal(await acquireJob(parts, "n1", 0), undefined);
  });

  it("holds the call until a job is placed on the node", async () => {
    const { parts, place } = setUp();
    const waiting = acquireJob(parts, "n1", 10_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await place("elsewhere", "n2");
    await place("mine", "n1");
    assert.equal((await waiting)?.jobId, "mine");
  });

  it("returns nothing when the wait runs out or the caller goes away", async () => {
    const { parts } = setUp();
    const started = Date.now();
    assert.equal(await acquireJob(parts, "n1", 40), undefined);
    assert.ok(Date.now() - started >= 35);
    const gone = new AbortController();
    const waiting = acquireJob(parts, "n1", 60_000, gone.signal);
    gone.abort();
    assert.equal(await waiting, undefined);
  });

  it("starts a job once when two polls of the node race for it", async () => {
    const { parts, started, place } = setUp();
    await place("only", "n1");
    const [a, b] = await Promise.all([acquireJob(parts, "n1", 0), acquireJob(parts, "n1", 0)]);
    assert.deepEqual([a?.jobId, b?.jobId].filter(Boolean), ["only"]);
    assert.deepEqual(started, ["only#1"]);
  });

  it("is NOT_FOUND for a node that never registered", async () => {
    const { parts } = setUp();
    await assertRejectsWith(acquireJob(parts, "stranger", 0), Code.NotFound);
  });
});
