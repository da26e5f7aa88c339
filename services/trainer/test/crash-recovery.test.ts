/**
 * End to end across processes: trainer and agents as real processes on a nats-server of the test's own, with a
 * hosted (OpenAI-style) job against a local fake API so the job stays running while things crash. An agent is
 * killed (its job moves to another node), then the trainer is killed and restarted, then NATS is restarted; the
 * job still finishes exactly once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { JobSucceededSchema } from "@ragtune/contracts/events";
import { JobState, SubmitJobRequestSchema, TrainerService } from "@ragtune/contracts/trainer";
import { connectNats, createServiceClient, freePort, type LocalNats, startNatsServer } from "@ragtune/runtime";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { writeManifest } from "./fixtures/write-manifest.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

function startProcess(script: string, env: Record<string, string>, readyEvent: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: packageDir,
    env: { ...process.env, RAGTUNE_LOG_LEVEL: "warn", OTEL_SDK_DISABLED: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr = (stderr + d).slice(-3000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.includes(`"${readyEvent}"`)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once("exit", (code) => reject(new Error(`${script} exited ${code}: ${stderr}`)));
  });
}

function kill(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Hosted jobs stay "running" until released; listed with their metadata, as the provider's job list does. */
function startFakeHostedApi(state: {
  created: number;
  release: boolean;
  metadata: Record<string, string>[];
}): Promise<Server> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const send = (value: unknown) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (url.pathname === "/v1/files") return send({ id: "file-1" });
      const status = state.release ? "succeeded" : "running";
      if (url.pathname === "/v1/fine_tuning/jobs" && req.method === "POST") {
        state.created++;
        state.metadata.push(JSON.parse(body).metadata ?? {});
        return send({ id: `ftjob-${state.created}`, status: "queued" });
      }
      if (url.pathname === "/v1/fine_tuning/jobs" && req.method === "GET") {
        const wanted = url.searchParams.get("metadata[ragtune_job_id]");
        const data = state.metadata
          .map((metadata, i) => ({ id: `ftjob-${i + 1}`, status, metadata }))
          .filter((job) => job.metadata.ragtune_job_id === wanted)
          .reverse();
        return send({ object: "list", data, has_more: false });
      }
      if (url.pathname.endsWith("/events")) return send({ data: [] });
      const id = url.pathname.split("/").pop();
      if (url.pathname.endsWith("/cancel")) return send({ id, status: "cancelled" });
      send(
        state.release
          ? { id, status: "succeeded", fine_tuned_model: `ft:gpt-4o-mini:${id}` }
          : { id, status: "running" },
      );
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe("crash recovery across processes", { timeout: 150_000 }, () => {
  let dir: string;
  let nats: LocalNats;
  let natsPort: number;
  let api: Server;
  const hosted = { created: 0, release: false, metadata: [] as Record<string, string>[] };
  const children: ChildProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ragtune-crash-"));
    natsPort = await freePort();
    nats = await startNatsServer({ port: natsPort, storeDir: join(dir, "nats") });
    api = await startFakeHostedApi(hosted);
  });

  after(async () => {
    for (const child of children) await kill(child);
    api.close();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("loses no job and completes it once when an agent, the trainer and NATS crash", async () => {
    const manifest = await writeManifest(dir);
    const trainerPort = await freePort();
    const trainerEnv = {
      TRAINER_ADDR: `127.0.0.1:${trainerPort}`,
      NATS_URL: nats.url,
      TRAINER_HEARTBEAT_INTERVAL_MS: "300",
      TRAINER_MANIFEST_ROOTS: dir,
    };
    const agentEnv = (nodeId: string) => ({
      TRAINER_URL: `http://127.0.0.1:${trainerPort}`,
      NATS_URL: nats.url,
      AGENT_NODE_ID: nodeId,
      AGENT_EXECUTORS: "openai",
      OPENAI_BASE_URL: `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1`,
      OPENAI_API_KEY: "sk-test",
      AGENT_OPENAI_POLL_MS: "100",
    });
    const trainer1 = await startProcess("src/main.ts", trainerEnv, "listening");
    children.push(trainer1);
    const agent1 = await startProcess("src/agent-main.ts", agentEnv("node-1"), "agent-ready");
    children.push(agent1);

    const client = createServiceClient(TrainerService, `http://127.0.0.1:${trainerPort}`, { tracing: false });
    await client.submitJob(
      create(SubmitJobRequestSchema, {
        jobId: "hosted-crash",
        spec: {
          baseModel: "gpt-4o-mini-2024-07-18",
          method: FineTuneMethod.HOSTED,
          trainingData: { manifestUri: manifest.path, pool: "finetune-8", manifestSha256: manifest.sha256 },
          loraRank: 1,
          loraAlpha: 1,
          microBatchSize: 1,
        },
      }),
    );
    await until("node-1 running the job", async () => (hosted.created === 1 ? true : undefined));

    // 1. The agent dies mid-job: its node is lost, the job moves to node-2 as attempt 2, which follows the hosted
    // job attempt 1 started rather than starting (and paying for) another.
    await kill(agent1);
    const agent2 = await startProcess("src/agent-main.ts", agentEnv("node-2"), "agent-ready");
    children.push(agent2);
    await until("the job on node-2", async () => {
      const { job } = await client.getJob({ jobId: "hosted-crash" });
      return job?.state === JobState.RUNNING && job.nodeId === "node-2" ? job : undefined;
    });

    // 2. The trainer dies and comes back on the same address.
    await kill(trainer1);
    const trainer2 = await startProcess("src/main.ts", trainerEnv, "listening");
    children.push(trainer2);
    assert.equal((await client.getJob({ jobId: "hosted-crash" })).job?.state, JobState.RUNNING);

    // 3. NATS restarts on its store.
    await nats.stop();
    nats = await startNatsServer({ port: natsPort, storeDir: join(dir, "nats") });

    hosted.release = true;
    const done = await until(
      "success",
      async () => {
        const { job } = await client.getJob({ jobId: "hosted-crash" });
        return job?.state === JobState.SUCCEEDED ? job : undefined;
      },
      60_000,
    );
    const observer = await connectNats({ url: nats.url, name: "crash-test-observer" });
    try {
      const events = async (subject: string) => {
        const consumer = await observer.js.consumers.get("RAGTUNE_EVENTS", { filter_subjects: subject });
        const batch = await consumer.fetch({ max_messages: 20, expires: 1000 });
        const found: { jobId: string; error: string }[] = [];
        for await (const msg of batch) {
          const job = fromBinary(JobSucceededSchema, msg.data).job;
          found.push({ jobId: job?.jobId ?? "", error: job?.error ?? "" });
        }
        return found;
      };
      const failed = await events("ragtune.trainer.job.failed");
      assert.equal(done.attempt, 2, `attempts: ${done.attempt}; failures: ${JSON.stringify(failed)}`);
      assert.equal(done.lostAttempts, 1);
      assert.equal(done.nodeId, "node-2");
      assert.deepEqual(
        (await events("ragtune.trainer.job.succeeded")).map((e) => e.jobId),
        ["hosted-crash"],
      );
    } finally {
      await observer.close();
    }
    assert.equal(hosted.created, 1, "hosted fine-tuning jobs created");
    const { adapter } = await client.getAdapter({ adapterId: "hosted-crash" });
    assert.ok(adapter?.uri.startsWith("nats-obj://ragtune-adapters/"));
  });
});
