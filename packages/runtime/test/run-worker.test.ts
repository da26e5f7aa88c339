import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort, type LocalNats, startTestNats } from "../src/index.js";

const worker = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "worker-main.ts");

interface Run {
  child: ChildProcess;
  lines: () => Record<string, unknown>[];
  logs: () => Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
}

function startWorker(env: Record<string, string>, args: string[] = []): Run {
  const child = spawn(process.execPath, ["--import", "tsx", worker, ...args], {
    env: { ...process.env, OTEL_SDK_DISABLED: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += d;
  });
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const parse = (text: string) =>
    text
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, lines: () => parse(stdout), logs: () => parse(stderr), stderr: () => stderr, exited };
}

async function until(what: string, probe: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("runWorker", () => {
  let nats: LocalNats;
  before(async () => {
    nats = await startTestNats();
  });
  after(() => nats.stop());

  it("starts the worker with its settings and NATS, and on SIGTERM stops it before NATS drains, exiting 0", async () => {
    const run = startWorker({ NATS_URL: nats.url }, ["--worker-count", "3"]);
    await until("ready", () => run.lines().some((l) => l.event === "ready"));
    assert.deepEqual(run.lines()[0], { event: "ready", count: 3, nats: true });
    const configuration = run.logs().find((l) => l.msg === "configuration");
    assert.deepEqual(configuration?.config, {
      NATS_URL: nats.url,
      RAGTUNE_CALL_TIMEOUT_MS: 600_000,
      RAGTUNE_EVENTS_MAX_BYTES: 256 * 1024 ** 2,
      RAGTUNE_KV_MAX_BYTES: 128 * 1024 ** 2,
      RAGTUNE_OBJECT_STORE_MAX_BYTES: 1024 ** 3,
      RAGTUNE_LOG_LEVEL: "info",
      WORKER_COUNT: 3,
    });
    run.child.kill("SIGTERM");
    assert.equal(await run.exited, 0);
    assert.deepEqual(run.lines()[1], { event: "worker-stopped", natsConnected: true });
    const messages = run.logs().map((l) => l.msg);
    assert.ok(messages.indexOf("stopping") < messages.indexOf("stopped"), messages.join(", "));
  });

  it("exits 2 naming the setting when a setting or a check across settings fails", async () => {
    const bad = startWorker({ NATS_URL: nats.url, WORKER_COUNT: "zero" });
    assert.equal(await bad.exited, 2);
    assert.match(bad.stderr(), /^ragtune-test-worker: invalid configuration WORKER_COUNT: must be a number/m);
    const unlucky = startWorker({ NATS_URL: nats.url, WORKER_COUNT: "13" });
    assert.equal(await unlucky.exited, 2);
    assert.match(unlucky.stderr(), /^ragtune-test-worker: invalid configuration WORKER_COUNT: must not be 13$/m);
  });

  it("exits 1 without NATS unless the configuration lets the worker run without it, saying what it cannot do", async () => {
    const nowhere = `nats://127.0.0.1:${await freePort()}`;
    const required = startWorker({ NATS_URL: nowhere });
    assert.equal(await required.exited, 1);
    assert.match(required.stderr(), /ragtune-test-worker: cannot reach NATS/);
    const optional = startWorker({ NATS_URL: nowhere, WORKER_COUNT: "2" });
    await until("ready", () => optional.lines().some((l) => l.event === "ready"));
    assert.deepEqual(optional.lines()[0], { event: "ready", count: 2, nats: false });
    assert.ok(optional.logs().some((l) => l.msg === "running without NATS: events cannot be published"));
    optional.child.kill("SIGINT");
    assert.equal(await optional.exited, 0);
    assert.deepEqual(optional.lines()[1], { event: "worker-stopped" });
  });
});
