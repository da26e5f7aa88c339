/**
 * Two trainer replicas on the same NATS buckets: either answers any call, jobs submitted to one are seen and
 * started through the other, and the placement lease keeps every GPU to one job.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { JobState, NodeState } from "@ragtune/contracts/trainer";
import { connectNats, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTrainerScheduler, openTrainerStores } from "../src/server.js";
import { openKvBucket } from "../src/store/kv-record-store.js";
import { createKvPlacementLease } from "../src/store/placement-lease.js";
import { writeManifest } from "./fixtures/write-manifest.js";
import { gpuNode, peftSubmit } from "../src/testing/fixtures.js";

describe("two trainer replicas", () => {
  let server: LocalNats;
  let nats: NatsHandle;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "replicas-"));
    server = await startTestNats();
    nats = await connectNats({ url: server.url, name: "replica-test" });
  });
  after(async () => {
    await nats.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("share jobs, and concurrent placement passes never put two jobs on one GPU", async () => {
    const options = {
      nats,
      bucketPrefix: "replicas",
      heartbeatIntervalMs: 60_000,
      leaseTtlMs: 500,
      manifests: { roots: [dir] },
    };
    const [a, b] = [await createTrainerScheduler(options), await createTrainerScheduler(options)];
    const stores = await openTrainerStores(nats, "replicas");
    try {
      const manifest = await writeManifest(dir);
      const trainingData = { manifestUri: manifest.path, manifestSha256: manifest.sha256, pool: "finetune-8" };
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).submit(peftSubmit(`j${i}`, { method: 2, trainingData }))),
      );
      // The node appears in the shared store (as if registered through a third replica); then both replicas run a
      // placement pass at the same moment, each seeing two free GPUs.
      const node = gpuNode("n1", [80, 80]);
      node.state = NodeState.READY;
      await stores.nodes.put("n1", node);
      for (let i = 0; i < 100 && (a.listNodes().length === 0 || b.listNodes().length === 0); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await Promise.all([a.requestSchedule(), b.requestSchedule()]);
      const settled = async () => {
        for (let i = 0; i < 100; i++) {
          const placed = [a, b].map((r) => r.listJobs([JobState.PLACED], 100, "").jobs.length);
          const queued = [a, b].map((r) => r.listJobs([JobState.QUEUED], 100, "").jobs.length);
          if (placed[0] === 2 && placed[1] === 2 && queued[0] === 8 && queued[1] === 8) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.fail("replicas did not converge on 2 placed and 8 queued jobs");
      };
      await settled();
      const placed = b.listJobs([JobState.PLACED], 100, "").jobs;
      assert.deepEqual(placed.map((j) => `${j.nodeId}/${j.gpuIndex}`).sort(), ["n1/0", "n1/1"]);

      // The agent asks replica b for a job replica a may have placed; the attempt starts once.
      const started = await b.acquire("n1", 0);
      assert.ok(started);
      assert.equal(started.attempt, 1);
      for (let i = 0; i < 50 && a.getJob(started.jobId).state !== JobState.RUNNING; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(a.getJob(started.jobId).state, JobState.RUNNING);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it("hands the placement lease to one replica at a time, and to another once it lapses", async () => {
    const bucket = await openKvBucket(nats.kvm, "lease_test");
    const clock = { ms: 1_000 };
    const a = createKvPlacementLease(bucket, "a", 500, () => clock.ms);
    const b = createKvPlacementLease(bucket, "b", 500, () => clock.ms);
    assert.equal(await a.claim(), "acquired");
    assert.equal(await b.claim(), "held-elsewhere");
    clock.ms += 400;
    assert.equal(await a.claim(), "renewed");
    clock.ms += 400;
    assert.equal(await b.claim(), "held-elsewhere");
    clock.ms += 200;
    assert.equal(await b.claim(), "acquired");
    assert.equal(await a.claim(), "held-elsewhere");
    // Both racing for a lapsed lease: exactly one wins.
    clock.ms += 1_000;
    const results = await Promise.all([a.claim(), b.claim()]);
    assert.equal(results.filter((r) => r !== "held-elsewhere").length, 1, results.join(","));
    // A holder that stops hands over at once.
    const winner = results[0] === "held-elsewhere" ? b : a;
    const loser = winner === a ? b : a;
    await winner.release();
    assert.equal(await loser.claim(), "acquired");
  });
});
