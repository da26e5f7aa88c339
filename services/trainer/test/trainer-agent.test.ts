/**
 * Server tier and across restarts: a real trainer (gRPC over a socket, KV state and events on a nats-server of
 * the test's own) and a real node agent training the extractive reader.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { JobSucceededSchema } from "@ragtune/contracts/events";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { FailureClass, JobState, SubmitJobRequestSchema, TrainerService } from "@ragtune/contracts/trainer";
import {
  connectNats,
  createServiceClient,
  createServiceServer,
  type LocalNats,
  type NatsHandle,
  type ServiceServer,
  startTestNats,
} from "@ragtune/runtime";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readArchive, createObjectStoreAdapterStorage } from "@ragtune/adapter-archive";
import { createCpuReaderExecutor, READER_WEIGHTS_FILE } from "../src/agent/executors/cpu-reader.js";
import { createOpenAiExecutor } from "../src/agent/executors/openai.js";
import { NodeAgent } from "../src/agent/node-agent.js";
import { sha256Hex } from "@ragtune/datasets";
import type { TrainerScheduler } from "../src/scheduler/scheduler.js";
import { createObjectReader, createTrainerScheduler } from "../src/server.js";
import { TrainerServiceImpl } from "../src/service.js";
import { writeManifest } from "./fixtures/write-manifest.js";

interface RunningTrainer {
  scheduler: TrainerScheduler;
  server: ServiceServer;
  url: string;
  stop(): Promise<void>;
}

async function startTrainer(nats: NatsHandle, addr = "127.0.0.1:0"): Promise<RunningTrainer> {
  const scheduler = await createTrainerScheduler({
    nats,
    heartbeatIntervalMs: 300,
    retryBaseMs: 50,
    retryMaxMs: 200,
    // The fixture manifests are files in a temporary folder.
    manifests: { roots: [tmpdir()] },
  });
  const server = createServiceServer({
    name: "trainer",
    services: [{ service: TrainerService, impl: new TrainerServiceImpl(scheduler) }],
    tracing: false,
  });
  const { url } = await server.listen(addr);
  return {
    scheduler,
    server,
    url,
    async stop() {
      await server.close(200);
      await scheduler.stop();
    },
  };
}

describe("trainer with a node agent over NATS", () => {
  let localNats: LocalNats;
  let nats: NatsHandle;
  let dir: string;
  let manifest: { path: string; sha256: string };

  before(async () => {
    localNats = await startTestNats();
    nats = await connectNats({ url: localNats.url, name: "trainer-test" });
    dir = await mkdtemp(join(tmpdir(), "ragtune-trainer-"));
    manifest = await writeManifest(dir);
  });

  after(async () => {
    await nats.close();
    await localNats.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const readerJob = (jobId: string, manifestSha256 = manifest.sha256) =>
    create(SubmitJobRequestSchema, {
      jobId,
      spec: {
        baseModel: "extractive-reader",
        trainingData: { manifestUri: manifest.path, pool: "finetune-8", manifestSha256 },
        epochs: 3,
        microBatchSize: 1,
        loraRank: 1,
        loraAlpha: 1,
      },
    });

  function startAgent(url: string, nodeId: string) {
    const agent = new NodeAgent({
      client: createServiceClient(TrainerService, url, { tracing: false }),
      nodeId,
      executors: [createCpuReaderExecutor()],
      storage: createObjectStoreAdapterStorage(nats.objm, "test-adapters"),
      readObject: createObjectReader(nats),
      acquireWaitSeconds: 1,
      progressIntervalMs: 0,
    });
    return agent;
  }

  it("trains the reader end to end: watch, adapter in the Object Store, events on JetStream", async () => {
    const trainer = await startTrainer(nats);
    const agent = startAgent(trainer.url, "cpu-1");
    await agent.start();
    const client = createServiceClient(TrainerService, trainer.url, { tracing: false });
    try {
      const submitted = await client.submitJob(readerJob("reader-e2e"));
      assert.equal(submitted.created, true);
      const states: JobState[] = [];
      for await (const { job } of client.watchJob({ jobId: "reader-e2e" })) {
        if (states.at(-1) !== job?.state) states.push(job?.state ?? 0);
      }
      assert.equal(states.at(-1), JobState.SUCCEEDED, `states: ${states.map((s) => JobState[s])}`);
      assert.ok(states.includes(JobState.RUNNING));

      const { adapter } = await client.getAdapter({ adapterId: "reader-e2e" });
      assert.ok(adapter);
      assert.equal(adapter.baseModel, "extractive-reader");
      assert.ok(adapter.uri.startsWith("nats-obj://test-adapters/"));
      assert.ok((adapter.metrics.train_pairs ?? 0) === 8);
      const archive = await (await nats.objm.open("test-adapters")).getBlob("reader-e2e.tar");
      assert.ok(archive);
      assert.equal(sha256Hex(archive), adapter.sha256);
      const weights = JSON.parse(Buffer.from(readArchive(archive).get(READER_WEIGHTS_FILE)!).toString("utf8"));
      assert.equal(weights.format, "ragtune.extractive-reader");
      assert.equal(weights.training.pairs, 8);

      const succeeded = await nats.jsm.streams.getMessage("RAGTUNE_EVENTS", {
        last_by_subj: "ragtune.trainer.job.succeeded",
      });
      assert.equal(fromBinary(JobSucceededSchema, succeeded!.data).job?.jobId, "reader-e2e");
      const published = await nats.jsm.streams.getMessage("RAGTUNE_EVENTS", {
        last_by_subj: "ragtune.trainer.adapter.published",
      });
      assert.ok(published);
      assert.equal((await client.submitJob(readerJob("reader-e2e"))).created, false);
    } finally {
      await agent.stop();
      await trainer.stop();
    }
  });

  it("adds no abort listener per heartbeat (no MaxListeners warning)", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    const trainer = await startTrainer(nats);
    const agent = startAgent(trainer.url, "cpu-listeners");
    await agent.start();
    const client = createServiceClient(TrainerService, trainer.url, { tracing: false });
    try {
      await client.submitJob(readerJob("reader-listeners"));
      for await (const _ of client.watchJob({ jobId: "reader-listeners" }));
      // The trainer asks for a heartbeat every 300 ms: 4 s is more than the 10 listeners Node warns at.
      await new Promise((resolve) => setTimeout(resolve, 4000));
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      assert.deepEqual(
        warnings.filter((w) => w.startsWith("MaxListenersExceededWarning")),
        [],
      );
    } finally {
      process.off("warning", onWarning);
      await agent.stop();
      await trainer.stop();
    }
  });

  it("fails a job with a wrong manifest checksum at once as a user error", async () => {
    const trainer = await startTrainer(nats);
    const agent = startAgent(trainer.url, "cpu-2");
    await agent.start();
    const client = createServiceClient(TrainerService, trainer.url, { tracing: false });
    try {
      await client.submitJob(readerJob("bad-sha", "0".repeat(64)));
      let last: JobState | undefined;
      for await (const { job } of client.watchJob({ jobId: "bad-sha" })) last = job?.state;
      const { job } = await client.getJob({ jobId: "bad-sha" });
      assert.equal(last, JobState.FAILED);
      assert.equal(job?.attempt, 1);
      assert.match(job?.error ?? "", /sha256/);
    } finally {
      await agent.stop();
      await trainer.stop();
    }
  });

  it("answers bad input with INVALID_ARGUMENT naming the field", async () => {
    const trainer = await startTrainer(nats);
    const client = createServiceClient(TrainerService, trainer.url, { tracing: false });
    try {
      const tooBig = readerJob("too-big");
      tooBig.spec!.trainingData!.size = 50;
      await assert.rejects(client.submitJob(tooBig), (e: ConnectError) => {
        assert.equal(e.code, Code.InvalidArgument);
        assert.match(e.rawMessage, /^spec\.training_data\.size: 50 is larger than pool "finetune-8" \(8 pairs\)/);
        return true;
      });
      // The manifest has an "eval" pool, so only the trainer's own rule stands between it and a fine-tune.
      const onEval = readerJob("on-eval");
      onEval.spec!.trainingData!.pool = "eval";
      await assert.rejects(client.submitJob(onEval), (e: ConnectError) => {
        assert.equal(e.code, Code.InvalidArgument);
        assert.match(e.rawMessage, /^spec\.training_data\.pool: is "eval", the held-out evaluation pool/);
        return true;
      });
      await assert.rejects(client.getJob({ jobId: "on-eval" }), (e: ConnectError) => e.code === Code.NotFound);
      const missingPool = readerJob("no-pool");
      missingPool.spec!.trainingData!.pool = "finetune-9000";
      await assert.rejects(client.submitJob(missingPool), /spec\.training_data: pool "finetune-9000" is not in/);
      await assert.rejects(client.getJob({ jobId: "nope" }), (e: ConnectError) => e.code === Code.NotFound);
    } finally {
      await trainer.stop();
    }
  });

  it("keeps a job across a trainer restart and finishes it once", async () => {
    const first = await startTrainer(nats);
    const port = new URL(first.url).port;
    const client = createServiceClient(TrainerService, first.url, { tracing: false });
    await client.submitJob(readerJob("survivor"));
    await first.stop();

    // The restarted trainer still has it. It may place it on a node of an earlier test whose agent has stopped:
    // that node is then found lost and the job moves to the live agent.
    const second = await startTrainer(nats, `127.0.0.1:${port}`);
    assert.ok([JobState.QUEUED, JobState.PLACED].includes(second.scheduler.getJob("survivor").state));
    const agent = startAgent(second.url, "cpu-3");
    await agent.start();
    try {
      let last: JobState | undefined;
      for await (const { job } of client.watchJob({ jobId: "survivor" })) last = job?.state;
      assert.equal(last, JobState.SUCCEEDED);
      assert.equal(second.scheduler.getJob("survivor").attempt, 1);
    } finally {
      await agent.stop();
      await second.stop();
    }
  });

  it("hands its running job back when the agent shuts down", async () => {
    // A hosted job that never finishes, on a local fake of the fine-tuning API.
    const api = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        const path = new URL(req.url ?? "/", "http://x").pathname;
        res.end(
          JSON.stringify(
            path.endsWith("/events")
              ? { data: [] }
              : path.endsWith("/files")
                ? { id: "f" }
                : { id: "ft", status: "running" },
          ),
        );
      });
    });
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
    const trainer = await startTrainer(nats);
    const agent = new NodeAgent({
      client: createServiceClient(TrainerService, trainer.url, { tracing: false }),
      nodeId: "hosted-1",
      executors: [
        createOpenAiExecutor({
          baseUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1`,
          pollIntervalMs: 20,
        }),
      ],
      storage: createObjectStoreAdapterStorage(nats.objm, "test-adapters"),
      acquireWaitSeconds: 1,
    });
    await agent.start();
    const client = createServiceClient(TrainerService, trainer.url, { tracing: false });
    try {
      const request = readerJob("handed-back");
      request.spec!.baseModel = "gpt-4o-mini";
      request.spec!.method = FineTuneMethod.HOSTED;
      await client.submitJob(request);
      for (let i = 0; i < 200 && (await client.getJob({ jobId: "handed-back" })).job?.state !== JobState.RUNNING; i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      await agent.stop();
      const { job } = await client.getJob({ jobId: "handed-back" });
      assert.notEqual(job?.state, JobState.RUNNING);
      assert.equal(job?.failureClass, FailureClass.NODE_LOST);
      assert.equal(job?.lostAttempts, 1);
      assert.match(job?.error ?? "", /shut down/);
      await client.cancelJob({ jobId: "handed-back" });
    } finally {
      await trainer.stop();
      api.close();
    }
  });
});
