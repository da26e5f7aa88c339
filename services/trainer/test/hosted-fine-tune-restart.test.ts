/**
 * A hosted fine-tune is started once per ragtune job, even across an agent restart: the restarted agent's new
 * attempt lists the provider's jobs, finds the one carrying the ragtune job id in its metadata and follows it;
 * the agent stopping did not cancel it. Real trainer over gRPC, real NATS, real agents, against the project's
 * OpenAI-compatible test server (a TEST DOUBLE of the provider's fine-tuning API), which counts the create calls.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { JobState, SubmitJobRequestSchema, TrainerService } from "@ragtune/contracts/trainer";
import { connectNats, createServiceClient, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "@ragtune/testing";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDirectoryAdapterStorage } from "@ragtune/adapter-archive";
import { createOpenAiExecutor } from "../src/agent/executors/openai.js";
import { NodeAgent } from "../src/agent/node-agent.js";
import { createObjectReader } from "../src/server.js";
import { publishManifest, startTrainerOnSocket } from "./support/trainer-on-socket.js";

const BASE_MODEL = "gpt-4o-mini-2024-07-18";

describe("a hosted fine-tune across an agent restart", () => {
  let localNats: LocalNats;
  let nats: NatsHandle;
  let provider: FakeOpenAiServer;
  let dir: string;

  before(async () => {
    localNats = await startTestNats();
    nats = await connectNats({ url: localNats.url, name: "hosted-restart-test" });
    // Enough status polls that the agent is restarted while the hosted job still runs.
    provider = await startFakeOpenAiServer({ models: [{ id: BASE_MODEL }], fineTuning: { pollsToSucceed: 12 } });
    dir = await mkdtemp(join(tmpdir(), "ragtune-hosted-restart-"));
  });
  after(async () => {
    await provider.close();
    await nats.close();
    await localNats.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const countRequests = (method: string, path: string) =>
    provider.requests.filter((r) => r.method === method && r.path === path).length;

  it("follows the hosted job the first attempt created instead of creating another", async () => {
    const trainingData = await publishManifest(nats, dir, "hosted-restart-manifests");
    const trainer = await startTrainerOnSocket({ nats, bucketPrefix: "hosted_restart", heartbeatIntervalMs: 200 });
    const startAgent = async () => {
      const agent = new NodeAgent({
        client: createServiceClient(TrainerService, trainer.url, { tracing: false }),
        nodeId: "hosted-node",
        executors: [createOpenAiExecutor({ baseUrl: provider.baseUrl, apiKey: "sk-test", pollIntervalMs: 50 })],
        storage: createDirectoryAdapterStorage(join(dir, "adapters")),
        readObject: createObjectReader(nats),
        acquireWaitSeconds: 1,
      });
      await agent.start();
      return agent;
    };
    const client = createServiceClient(TrainerService, trainer.url, { tracing: false });
    let agent = await startAgent();
    try {
      await client.submitJob(
        create(SubmitJobRequestSchema, {
          jobId: "hosted-once",
          spec: {
            baseModel: BASE_MODEL,
            executor: "openai",
            trainingData: { ...trainingData, pool: "finetune-8" },
            loraRank: 1,
            loraAlpha: 1,
            epochs: 1,
            microBatchSize: 1,
          },
        }),
      );
      // The hosted job is running at the provider when the agent restarts.
      for (let i = 0; i < 400 && ![...provider.fineTuning.jobs.values()].some((j) => j.status === "running"); i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.equal(countRequests("POST", "/v1/fine_tuning/jobs"), 1);
      await agent.stop();
      agent = await startAgent();

      let last: JobState = JobState.UNSPECIFIED;
      for await (const { job } of client.watchJob({ jobId: "hosted-once" })) last = job?.state ?? last;
      const job = (await client.getJob({ jobId: "hosted-once" })).job;
      assert.equal(JobState[last], "SUCCEEDED", job?.error);
      assert.equal(job?.attempt, 2, "the restart cost the first attempt");
      assert.equal(job?.lostAttempts, 1);

      assert.equal(countRequests("POST", "/v1/fine_tuning/jobs"), 1, "fine-tuning jobs created");
      assert.equal(countRequests("POST", "/v1/files"), 1, "training files uploaded");
      assert.equal(countRequests("GET", "/v1/fine_tuning/jobs"), 2, "each attempt looked for an earlier one");
      const hosted = [...provider.fineTuning.jobs.values()];
      assert.equal(hosted.length, 1);
      assert.equal(hosted[0].status, "succeeded");
      assert.equal(hosted[0].metadata?.ragtune_job_id, "hosted-once");
    } finally {
      await agent.stop();
      await trainer.stop();
    }
  });
});
