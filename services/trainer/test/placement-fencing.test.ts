/**
 * Placement is fenced by KV revisions, not by the lease alone: two replicas that both believe they hold the
 * placement lease (one paused past its lease, or a clock that lied) race on the same GPU and the same job against
 * a real NATS, and exactly one placement is written each time.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Job, JobSchema, JobState, NodeSchema, NodeState } from "@ragtune/contracts/trainer";
import { connectNats, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import { JobQueue } from "../src/scheduler/job-queue.js";
import { NodeRegistry } from "../src/scheduler/node-registry.js";
import type { PlacementStrategy } from "../src/scheduler/placement.js";
import { PlacementLoop } from "../src/scheduler/placement-loop.js";
import { createKvRecordStore, openKvBucket } from "../src/store/kv-record-store.js";
import type { PlacementLease } from "../src/store/placement-lease.js";
import { createKvSlotClaims } from "../src/store/slot-claims.js";
import { GIB, gpuNode } from "../src/testing/fixtures.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");

/** A lease its replica believes it holds: the case the lease alone cannot make safe. */
const believedLease = {
  ttlMs: 60_000,
  revision: 1,
  claim: async () => "renewed",
  release: async () => {},
  held: () => true,
} as PlacementLease;

const gpuJob = (jobId: string, priority = 0): Job =>
  create(JobSchema, {
    jobId,
    state: JobState.QUEUED,
    priority,
    maxAttempts: 3,
    spec: { baseModel: "mistralai/Mistral-7B-Instruct-v0.2", executor: "peft" },
    estimatedMemoryBytes: BigInt(10 * GIB),
    createTime: timestampFromMs(T0),
  });

describe("fenced placement across replicas on real NATS", () => {
  let server: LocalNats;
  let nats: NatsHandle;
  before(async () => {
    server = await startTestNats();
    nats = await connectNats({ url: server.url, name: "placement-fencing-test" });
  });
  after(async () => {
    await nats.close();
    await server.stop();
  });

  /** One replica's placement parts on shared buckets (a fresh set per prefix). */
  async function buckets(prefix: string) {
    const [jobs, nodes, lease] = await Promise.all(
      ["jobs", "nodes", "lease"].map((name) => openKvBucket(nats.kvm, `${prefix}_${name}`)),
    );
    const stores = { jobs: createKvRecordStore(jobs, JobSchema), nodes: createKvRecordStore(nodes, NodeSchema) };
    const replica = async (strategy: PlacementStrategy = "best-fit") => {
      const queue = new JobQueue(stores.jobs);
      const registry = new NodeRegistry(stores.nodes, 60_000);
      await registry.load();
      const placed: string[] = [];
      const loop = new PlacementLoop({
        jobs: queue,
        nodes: registry,
        events: { jobPlaced: async (job) => void placed.push(job.jobId) },
        strategy,
        now: () => T0,
        lease: believedLease,
        slots: createKvSlotClaims(lease),
        onError: (what, error) => assert.fail(`${what}: ${error}`),
      });
      return { queue, registry, loop, placed };
    };
    const addNode = async (nodeId: string, gpus: number[]) => {
      const node = gpuNode(nodeId, gpus);
      node.state = NodeState.READY;
      await stores.nodes.put(nodeId, node);
    };
    const placedJobs = async () =>
      (await stores.jobs.list()).map((r) => r.value).filter((job) => job.state === JobState.PLACED);
    return { stores, replica, addNode, placedJobs };
  }

  it("a replica with a stale view cannot put a second job on a GPU the other one just filled", async () => {
    const { replica, addNode, placedJobs } = await buckets("fence_stale");
    await addNode("n1", [80]);
    const a = await replica();
    await a.queue.create(gpuJob("j1"));
    const b = await replica();
    await b.queue.create(gpuJob("j2", 5));
    await b.queue.load(); // b sees both jobs; neither follows the other's writes
    await a.loop.request();
    assert.deepEqual(a.placed, ["j1"]);
    await b.loop.request(); // b still sees the GPU free and plans j2 onto it
    assert.deepEqual(b.placed, []);
    const placed = await placedJobs();
    assert.deepEqual(
      placed.map((j) => `${j.jobId}@${j.nodeId}/${j.gpuIndex}`),
      ["j1@n1/0"],
    );
    await Promise.all([a.loop.stop(), b.loop.stop()]);
  });

  it("two replicas racing, each for its own job on the only GPU: exactly one placement per round", async () => {
    for (let round = 0; round < 12; round++) {
      const { replica, addNode, placedJobs } = await buckets(`fence_gpu_${round}`);
      await addNode("n1", [80]);
      const a = await replica();
      await a.queue.create(gpuJob("ja"));
      const b = await replica();
      await b.queue.create(gpuJob("jb", 5));
      await b.queue.load();
      await Promise.all([a.loop.request(), b.loop.request()]);
      const placed = await placedJobs();
      assert.equal(placed.length, 1, `round ${round}: ${placed.map((j) => j.jobId)} placed on one GPU`);
      assert.equal(a.placed.length + b.placed.length, 1, `round ${round}: placement events`);
      await Promise.all([a.loop.stop(), b.loop.stop()]);
    }
  });

  it("two replicas racing for one job, choosing different GPUs: the job is placed once", async () => {
    for (let round = 0; round < 6; round++) {
      const { replica, addNode, placedJobs } = await buckets(`fence_job_${round}`);
      await addNode("big", [80]);
      await addNode("small", [24]);
      const a = await replica("best-fit"); // the 24 GB GPU
      const b = await replica("first-fit"); // whichever node comes first
      await a.queue.create(gpuJob("only"));
      await b.queue.load();
      await Promise.all([a.loop.request(), b.loop.request()]);
      const placed = await placedJobs();
      assert.equal(placed.length, 1);
      assert.equal(a.placed.length + b.placed.length, 1, `round ${round}: placement events`);
      await Promise.all([a.loop.stop(), b.loop.stop()]);
    }
  });
});
