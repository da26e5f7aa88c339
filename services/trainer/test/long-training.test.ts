/**
 * A long CPU training must not silence the agent: the reader trains in a worker thread, so heartbeats keep their
 * period while it runs and the trainer never declares the node lost. Real trainer over gRPC on a socket, real
 * NATS, a real agent training the reader for a few seconds.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { JobState, SubmitJobRequestSchema, TrainerService } from "@ragtune/contracts/trainer";
import { connectNats, createServiceClient, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createObjectStoreAdapterStorage } from "@ragtune/adapter-archive";
import { createCpuReaderExecutor } from "../src/agent/executors/cpu-reader.js";
import { NodeAgent } from "../src/agent/node-agent.js";
import { createObjectReader } from "../src/server.js";
import { publishManifest, startTrainerOnSocket } from "./support/trainer-on-socket.js";

const HEARTBEAT_MS = 200;

describe("a long reader training", () => {
  let localNats: LocalNats;
  let nats: NatsHandle;
  let dir: string;

  before(async () => {
    localNats = await startTestNats();
    nats = await connectNats({ url: localNats.url, name: "long-training-test" });
    dir = await mkdtemp(join(tmpdir(), "ragtune-long-training-"));
  });
  after(async () => {
    await nats.close();
    await localNats.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the agent heartbeating on time, so the job succeeds on its first attempt", async () => {
    // 10,000 examples × 100 epochs: ~2.9 s of training on an idle 2-core machine (1,000 took 1.2 s there, too
    // short for the 6 heartbeat periods this test needs; a loaded machine only makes it longer).
    const trainingData = await publishManifest(nats, dir, "long-training-manifests", 10000);
    const trainer = await startTrainerOnSocket({
      nats,
      bucketPrefix: "long_training",
      heartbeatIntervalMs: HEARTBEAT_MS,
    });
    const url = trainer.url;
    const heartbeats: number[] = [];
    const countHeartbeats: Interceptor = (next) => async (request) => {
      if (request.method.name === "Heartbeat") heartbeats.push(performance.now());
      return next(request);
    };
    const agent = new NodeAgent({
      client: createServiceClient(TrainerService, url, { tracing: false, interceptors: [countHeartbeats] }),
      nodeId: "cpu-long",
      executors: [createCpuReaderExecutor()],
      storage: createObjectStoreAdapterStorage(nats.objm, "long-training-adapters"),
      readObject: createObjectReader(nats),
      acquireWaitSeconds: 1,
    });
    await agent.start();
    const client = createServiceClient(TrainerService, url, { tracing: false });
    try {
      await client.submitJob(
        create(SubmitJobRequestSchema, {
          jobId: "long-reader",
          spec: {
            baseModel: "extractive-reader",
            trainingData: { ...trainingData, pool: "finetune-10000" },
            epochs: 100,
            microBatchSize: 1,
            loraRank: 1,
            loraAlpha: 1,
          },
        }),
      );
      let runningAt = 0;
      let endedAt = 0;
      let last: JobState = JobState.UNSPECIFIED;
      for await (const { job } of client.watchJob({ jobId: "long-reader" })) {
        last = job?.state ?? JobState.UNSPECIFIED;
        if (last === JobState.RUNNING && !runningAt) runningAt = performance.now();
        if (last === JobState.SUCCEEDED || last === JobState.FAILED) endedAt = performance.now();
      }
      const job = (await client.getJob({ jobId: "long-reader" })).job;
      assert.equal(JobState[last], "SUCCEEDED", job?.error);
      assert.equal(job?.attempt, 1);
      assert.equal(job?.lostAttempts, 0);
      const trainingMs = endedAt - runningAt;
      // The test means something only if training outlasted the node-lost limit (3 periods) several times over.
      assert.ok(trainingMs > 6 * HEARTBEAT_MS, `training took only ${trainingMs.toFixed(0)} ms`);
      const during = [runningAt, ...heartbeats.filter((t) => t > runningAt && t < endedAt), endedAt];
      const gaps = during.slice(1).map((t, i) => t - during[i]);
      const longest = Math.max(...gaps);
      assert.ok(
        longest < 3 * HEARTBEAT_MS,
        `longest gap between heartbeats while training: ${longest.toFixed(0)} ms (training ${trainingMs.toFixed(0)} ms)`,
      );
    } finally {
      await agent.stop();
      await trainer.stop();
    }
  });
});
