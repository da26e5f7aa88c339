/**
 * Cancelling a PEFT job whose Python will not stop politely: the runner (a TEST DOUBLE for a GPU run,
 * fixtures/fake-peft-runner.py) ignores SIGTERM and has started a grandchild that ignores it too. The agent stops
 * the whole process group (SIGTERM, then SIGKILL after the grace period) and the trainer hands the GPU to the next
 * job only once the agent no longer lists the cancelled one, by which time both processes are gone. The runner's
 * environment is the allow-listed one: no auth token, no API keys. Real trainer over gRPC, real NATS, real agent.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { GpuSchema, JobState, SubmitJobRequestSchema, TrainerService } from "@ragtune/contracts/trainer";
import { connectNats, createServiceClient, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDirectoryAdapterStorage } from "@ragtune/adapter-archive";
import { createPeftExecutor } from "../src/agent/executors/peft.js";
import { NodeAgent } from "../src/agent/node-agent.js";
import { createObjectReader } from "../src/server.js";
import { publishManifest, startTrainerOnSocket } from "./support/trainer-on-socket.js";

const FAKE_RUNNER = join(dirname(fileURLToPath(import.meta.url)), "fixtures/fake-peft-runner.py");
const GRACE_MS = 700;
const GIB = 1024 ** 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Alive and not a zombie (a zombie holds no memory, no GPU, no files). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe("cancelling a PEFT job", () => {
  let localNats: LocalNats;
  let nats: NatsHandle;
  let dir: string;

  before(async () => {
    localNats = await startTestNats();
    nats = await connectNats({ url: localNats.url, name: "peft-cancel-test" });
    dir = await mkdtemp(join(tmpdir(), "ragtune-peft-cancel-"));
  });
  after(async () => {
    await nats.close();
    await localNats.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("kills the runner's whole process group and frees the GPU only after the agent saw it exit", async () => {
    const runner = join(dir, "fake-peft-runner.py");
    await copyFile(FAKE_RUNNER, runner);
    const trainingData = await publishManifest(nats, dir, "peft-cancel-manifests");
    const trainer = await startTrainerOnSocket({ nats, bucketPrefix: "peft_cancel", heartbeatIntervalMs: 200 });
    const agent = new NodeAgent({
      client: createServiceClient(TrainerService, trainer.url, { tracing: false }),
      nodeId: "gpu-node",
      executors: [
        createPeftExecutor({
          python: "python3",
          runnerPath: runner,
          killGraceMs: GRACE_MS,
          environment: {
            ...process.env,
            RAGTUNE_AUTH_TOKEN: "trainer-secret",
            RAGTUNE_AGENT_TOKEN: "agent-secret",
            OPENAI_API_KEY: "sk-secret",
            NATS_PASSWORD: "nats-secret",
            HF_HOME: join(dir, "hf"),
            CUDA_CACHE_PATH: join(dir, "cuda"),
          },
        }),
      ],
      probeGpus: async () => [
        create(GpuSchema, {
          index: 0,
          name: "pretend",
          memoryTotalBytes: BigInt(80 * GIB),
          memoryFreeBytes: BigInt(80 * GIB),
        }),
      ],
      storage: createDirectoryAdapterStorage(join(dir, "adapters")),
      readObject: createObjectReader(nats),
      acquireWaitSeconds: 1,
    });
    await agent.start();
    const client = createServiceClient(TrainerService, trainer.url, { tracing: false });
    const submit = (jobId: string) =>
      client.submitJob(
        create(SubmitJobRequestSchema, {
          jobId,
          spec: {
            baseModel: "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
            method: FineTuneMethod.LORA,
            trainingData: { ...trainingData, pool: "finetune-8" },
            loraRank: 8,
            loraAlpha: 16,
            epochs: 1,
            microBatchSize: 1,
          },
        }),
      );
    const state = async (jobId: string) => (await client.getJob({ jobId })).job?.state;
    try {
      await submit("held");
      const run = await until("the runner to start", async () => {
        const text = await readFile(join(dir, "run.json"), "utf8").catch(() => undefined);
        return text
          ? (JSON.parse(text) as { pid: number; grandchild: number; env: Record<string, string> })
          : undefined;
      });
      const heldJob = (await client.getJob({ jobId: "held" })).job;
      assert.equal(
        heldJob?.state,
        JobState.RUNNING,
        JSON.stringify({ a: heldJob?.attempt, l: heldJob?.lostAttempts, e: heldJob?.error }),
      );

      // The child's environment: allow-listed, no secrets.
      for (const secret of ["RAGTUNE_AUTH_TOKEN", "RAGTUNE_AGENT_TOKEN", "OPENAI_API_KEY", "NATS_PASSWORD"]) {
        assert.equal(run.env[secret], undefined, `${secret} reached the runner`);
      }
      assert.ok(run.env.PATH?.includes(process.env.PATH ?? "-"), "PATH reached the runner"); // pyenv may prepend
      assert.equal(run.env.HF_HOME, join(dir, "hf"));
      assert.equal(run.env.CUDA_CACHE_PATH, join(dir, "cuda"));
      assert.equal(run.env.CUDA_VISIBLE_DEVICES, "0");
      assert.equal(run.env.PYTHONUNBUFFERED, "1");

      await submit("next");
      assert.equal(await state("next"), JobState.QUEUED); // the only GPU is busy
      await client.cancelJob({ jobId: "held" });
      const cancelledAt = performance.now();

      // Both processes ignore SIGTERM: within the grace period they still run, and the GPU is not handed on.
      await sleep(GRACE_MS / 2);
      assert.equal(await alive(run.pid), true);
      assert.equal(await alive(run.grandchild), true);
      assert.equal(await state("next"), JobState.QUEUED);

      // After SIGKILL the group is gone; the agent stops listing the job and only then is the GPU given on.
      await until("the next job to be placed", async () =>
        (await state("next")) === JobState.QUEUED ? undefined : true,
      );
      const placedAfterMs = performance.now() - cancelledAt;
      assert.equal(await alive(run.pid), false, "the runner outlived the cancel");
      assert.equal(await alive(run.grandchild), false, "the runner's grandchild outlived the cancel");
      assert.ok(placedAfterMs >= GRACE_MS, `the GPU was handed on after ${placedAfterMs.toFixed(0)} ms`);
      assert.equal(await state("held"), JobState.CANCELLED);
      await client.cancelJob({ jobId: "next" }).catch(() => {});
    } finally {
      await agent.stop();
      await trainer.stop();
    }
  });
});
