import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Job, JobSchema, JobState, NodeSchema } from "@ragtune/contracts/trainer";
import type { PlacementLease } from "../store/placement-lease.js";
import { createMemoryRecordStore } from "../store/record-store.js";
import { createMemorySlotClaims } from "../store/slot-claims.js";
import { cpuNode, GIB, gpuNode } from "../testing/fixtures.js";
import { JobQueue } from "./job-queue.js";
import { NodeRegistry } from "./node-registry.js";
import { PlacementLoop } from "./placement-loop.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");

const gpuJob = (jobId: string, gib: number, init: Partial<Job> = {}): Job =>
  Object.assign(
    create(JobSchema, {
      jobId,
      state: JobState.QUEUED,
      spec: { baseModel: "mistralai/Mistral-7B-Instruct-v0.2", executor: "peft" },
      estimatedMemoryBytes: BigInt(gib * GIB),
      createTime: timestampFromMs(T0),
    }),
    init,
  );

async function setUp(lease?: PlacementLease, jobStore = createMemoryRecordStore(JobSchema)) {
  const clock = { ms: T0 };
  const jobs = new JobQueue(jobStore);
  const nodes = new NodeRegistry(createMemoryRecordStore(NodeSchema), 1000);
  const placed: string[] = [];
  const errors: string[] = [];
  const loop = new PlacementLoop({
    jobs,
    nodes,
    events: { jobPlaced: async (job) => void placed.push(`${job.jobId}@${job.nodeId}`) },
    strategy: "best-fit",
    now: () => clock.ms,
    lease,
    slots: createMemorySlotClaims(),
    onError: (what, error) => errors.push(`${what}: ${error}`),
  });
  return { clock, jobs, nodes, loop, placed, errors };
}

describe("PlacementLoop", () => {
  it("places queued jobs by priority on the best-fitting free GPU and announces each placement", async () => {
    const { jobs, nodes, loop, placed } = await setUp();
    await nodes.save(nodes.registered(gpuNode("small", [24]), T0));
    await nodes.save(nodes.registered(gpuNode("big", [80]), T0));
    await jobs.create(gpuJob("low", 10));
    await jobs.create(gpuJob("high", 10, { priority: 5 }));
    await jobs.create(gpuJob("huge", 60));
    await loop.request();
    assert.deepEqual(placed.sort(), ["high@small", "huge@big"]);
    assert.equal(jobs.get("low").state, JobState.QUEUED);
    // The slot that frees up goes to the job left waiting.
    await jobs.mutate("high", (j) => {
      j.state = JobState.SUCCEEDED;
      return true;
    });
    await loop.request();
    assert.equal(jobs.get("low").nodeId, "small");
    await loop.stop();
  });

  it("coalesces requests made during a pass into one more pass", async () => {
    const { jobs, nodes, loop } = await setUp();
    await nodes.save(nodes.registered(cpuNode("cpu"), T0));
    let passes = 0;
    const all = jobs.all.bind(jobs);
    jobs.all = () => {
      passes++;
      return all();
    };
    const first = loop.request();
    const during = [loop.request(), loop.request(), loop.request()];
    await Promise.all([first, ...during]);
    assert.equal(passes, 2);
    await loop.stop();
  });

  it("waits out a job's retry backoff with a timer, then places it", async () => {
    const { clock, jobs, nodes, loop } = await setUp();
    await nodes.save(nodes.registered(gpuNode("g", [24]), T0));
    await jobs.create(gpuJob("later", 10, { retryTime: timestampFromMs(T0 + 40) }));
    await loop.request();
    assert.equal(jobs.get("later").state, JobState.QUEUED);
    clock.ms = T0 + 40;
    const placed = jobs.waitFor((job) => job.state === JobState.PLACED, 5_000);
    await placed;
    assert.equal(jobs.get("later").nodeId, "g");
    await loop.stop();
  });

  it("leaves placement to the lease holder, re-reads every job when it takes the lease over, and releases it", async () => {
    const claims: ("held-elsewhere" | "acquired" | "renewed")[] = ["held-elsewhere", "acquired"];
    let released = 0;
    const lease = {
      ttlMs: 60_000,
      claim: async () => claims.shift() ?? "renewed",
      release: async () => void released++,
      held: () => true,
    } as unknown as PlacementLease;
    const store = createMemoryRecordStore(JobSchema);
    const { jobs, nodes, loop, placed } = await setUp(lease, store);
    await nodes.save(nodes.registered(gpuNode("g", [24, 24]), T0));
    await jobs.create(gpuJob("mine", 10));
    // Another replica's job, not in this replica's cache (it follows no watch here) until it takes the lease over.
    await new JobQueue(store).create(gpuJob("theirs", 10));
    await loop.request();
    assert.deepEqual(placed, []);
    await loop.request();
    assert.deepEqual(placed.sort(), ["mine@g", "theirs@g"]);
    await loop.stop();
    assert.equal(released, 1);
  });

  it("reports a failed pass and keeps going", async () => {
    const { jobs, nodes, loop, errors } = await setUp();
    await nodes.save(nodes.registered(gpuNode("g", [24]), T0));
    await jobs.create(gpuJob("j", 10));
    const all = jobs.all.bind(jobs);
    let fail = true;
    jobs.all = () => {
      if (fail) {
        fail = false;
        throw new Error("store down");
      }
      return all();
    };
    await loop.request();
    assert.match(errors[0], /placement pass: Error: store down/);
    await loop.request();
    assert.equal(jobs.get("j").state, JobState.PLACED);
    await loop.stop();
  });
});
