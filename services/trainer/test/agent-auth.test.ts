/**
 * Fail-closed auth and node agent credentials, over gRPC against real trainer and agent processes on a NATS of the
 * test's own: a trainer on a non-loopback address without a token refuses to start (unless insecure, warned); with
 * a token, an agent's credential works only as its own node (PERMISSION_DENIED as another) and only on the agent RPCs.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Code, ConnectError } from "@connectrpc/connect";
import { TrainerService } from "@ragtune/contracts/trainer";
import { ConfigError, createServiceClient, deriveNodeToken, type LocalNats, startTestNats } from "@ragtune/runtime";
import { agentCredential } from "../src/agent/agent-credential.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const TOKEN = "trainer-test-token";

interface Started {
  child: ChildProcess;
  /** stdout and stderr lines so far. */
  lines: string[];
  /** Resolves with the first stdout line carrying `"event":"<event>"`, or rejects when the process exits first. */
  ready: Promise<string>;
  exited: Promise<number | null>;
}

function start(script: string, env: Record<string, string>, event: string): Started {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: packageDir,
    env: { ...process.env, RAGTUNE_LOG_LEVEL: "info", OTEL_SDK_DISABLED: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => lines.push(line));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      if (line.includes(`"event":"${event}"`)) resolve(line);
    });
    void exited.then((code) => reject(new Error(`${script} exited ${code}: ${lines.join("\n")}`)));
  });
  ready.catch(() => {});
  return { child, lines, ready, exited };
}

async function stop(started: Started) {
  if (started.child.exitCode === null && started.child.signalCode === null) started.child.kill("SIGTERM");
  await started.exited;
}

async function assertCode(call: Promise<unknown>, code: Code, pattern: RegExp) {
  await assert.rejects(call, (error: unknown) => {
    const err = ConnectError.from(error);
    assert.equal(err.code, code, `${Code[err.code]}: ${err.rawMessage}`);
    assert.match(err.rawMessage, pattern);
    return true;
  });
}

describe("trainer auth: fail-closed serving and node agent credentials", () => {
  let nats: LocalNats;
  before(async () => {
    nats = await startTestNats();
  });
  after(() => nats.stop());

  it("refuses to serve on a non-loopback address without a token, naming the settings", async () => {
    const trainer = start(
      "src/main.ts",
      { NATS_URL: nats.url, TRAINER_ADDR: "0.0.0.0:0", RAGTUNE_AUTH_TOKEN: "" },
      "listening",
    );
    assert.equal(await trainer.exited, 2);
    assert.match(trainer.lines.join("\n"), /RAGTUNE_AUTH_TOKEN.*--insecure \(RAGTUNE_INSECURE=1\)/);
  });

  it("serves without a token on a non-loopback address only when insecure, with a warning", async () => {
    const trainer = start(
      "src/main.ts",
      { NATS_URL: nats.url, TRAINER_ADDR: "0.0.0.0:0", RAGTUNE_AUTH_TOKEN: "", RAGTUNE_INSECURE: "1" },
      "listening",
    );
    try {
      await trainer.ready;
      const warning = trainer.lines.find((line) => line.includes('"msg":"INSECURE'));
      assert.ok(warning, trainer.lines.join("\n"));
      assert.equal(JSON.parse(warning).level, "warn");
    } finally {
      await stop(trainer);
    }
  });

  describe("with a token", () => {
    let trainer: Started;
    let url: string;
    before(async () => {
      trainer = start(
        "src/main.ts",
        { NATS_URL: nats.url, TRAINER_ADDR: "0.0.0.0:0", RAGTUNE_AUTH_TOKEN: TOKEN },
        "listening",
      );
      const port = new URL(JSON.parse(await trainer.ready).url).port;
      url = `http://127.0.0.1:${port}`;
    });
    after(() => stop(trainer));

    const asNode = (nodeId: string) =>
      createServiceClient(TrainerService, url, { authToken: deriveNodeToken(TOKEN, nodeId), tracing: false });
    const asAdmin = () => createServiceClient(TrainerService, url, { authToken: TOKEN, tracing: false });
    /** A real agent process with its own node credential, started until it says it is ready. */
    const startAgent = (nodeId: string, settings: Record<string, string>) =>
      start(
        "src/agent-main.ts",
        {
          NATS_URL: nats.url,
          TRAINER_URL: url,
          RAGTUNE_AGENT_TOKEN: deriveNodeToken(TOKEN, nodeId),
          RAGTUNE_AUTH_TOKEN: "",
          ...settings,
        },
        "agent-ready",
      );

    it("lets a real agent with its own RAGTUNE_AGENT_TOKEN register and heartbeat", async () => {
      const agent = startAgent("node-a", { AGENT_EXECUTORS: "cpu-reader" });
      try {
        assert.equal(JSON.parse(await agent.ready).nodeId, "node-a");
        const { nodes } = await asAdmin().listNodes({});
        assert.deepEqual(
          nodes.map((n) => n.nodeId),
          ["node-a"],
        );
      } finally {
        await stop(agent);
      }
    });

    it("registers a real agent's GPUs with those its operator declared shared (AGENT_SHARED_GPUS)", async () => {
      const agent = startAgent("node-shared", {
        NODE_ENV: "test",
        AGENT_PEFT_TEST_STAND_IN: "1",
        AGENT_PEFT_TEST_STAND_IN_GPU_FREE_GIB: "44",
        AGENT_EXECUTORS: "peft",
        AGENT_SHARED_GPUS: "0",
      });
      try {
        await agent.ready;
        const { nodes } = await asAdmin().listNodes({});
        const gpus = nodes.find((n) => n.nodeId === "node-shared")?.gpus ?? [];
        assert.deepEqual(
          gpus.map((g) => [g.index, g.shared, g.memoryFreeBytes]),
          [[0, true, 44n * 1024n ** 3n]],
        );
      } finally {
        await stop(agent);
      }
    });

    it("refuses one node's credential acting as another node: PERMISSION_DENIED", async () => {
      const nodeA = asNode("node-a");
      await assertCode(
        nodeA.acquireJob({ nodeId: "node-b", waitSeconds: 0.1 }),
        Code.PermissionDenied,
        /node node-a may not act as node node-b/,
      );
      await assertCode(
        nodeA.reportJob({ nodeId: "node-b", jobId: "j1", attempt: 1, report: { case: "progress", value: {} } }),
        Code.PermissionDenied,
        /node-a may not act as node node-b/,
      );
      await assertCode(nodeA.heartbeat({ nodeId: "node-b" }), Code.PermissionDenied, /may not act as node node-b/);
      await assertCode(
        nodeA.registerNode({ node: { nodeId: "node-b", executors: ["cpu-reader"] } }),
        Code.PermissionDenied,
        /may not act as node node-b/,
      );
      // As itself the same credential is let through (no job waits: an empty answer).
      const own = await nodeA.acquireJob({ nodeId: "node-a", waitSeconds: 0.1 });
      assert.equal(own.job, undefined);
    });

    it("keeps node credentials off the other RPCs, and the service token off the agent RPCs", async () => {
      await assertCode(asNode("node-a").listJobs({}), Code.PermissionDenied, /only the node agent RPCs/);
      await assertCode(
        asAdmin().acquireJob({ nodeId: "node-a", waitSeconds: 0.1 }),
        Code.PermissionDenied,
        /own credential/,
      );
    });

    it("refuses a forged node credential and a call without one: UNAUTHENTICATED", async () => {
      const forged = createServiceClient(TrainerService, url, {
        authToken: deriveNodeToken("not-the-token", "node-a"),
        tracing: false,
      });
      await assertCode(forged.acquireJob({ nodeId: "node-a", waitSeconds: 0.1 }), Code.Unauthenticated, /bearer token/);
      await assertCode(
        createServiceClient(TrainerService, url, { tracing: false }).listNodes({}),
        Code.Unauthenticated,
        /bearer token/,
      );
    });
  });
});

describe("the agent's credential from its settings", () => {
  it("takes its node id from RAGTUNE_AGENT_TOKEN, and refuses a token for another AGENT_NODE_ID", () => {
    const token = deriveNodeToken(TOKEN, "node-x");
    assert.deepEqual(agentCredential({ agentToken: token }), {
      nodeId: "node-x",
      token,
      derivedFromSharedToken: false,
    });
    assert.throws(
      () => agentCredential({ agentToken: token, nodeId: "node-y" }),
      (error: Error) => error instanceof ConfigError && /AGENT_NODE_ID.*node-x/.test(error.message),
    );
    assert.throws(
      () => agentCredential({ agentToken: TOKEN }),
      (error: Error) => error instanceof ConfigError && /RAGTUNE_AGENT_TOKEN/.test(error.message),
    );
  });

  it("derives its node's credential from the shared token when that is all it has (warned at start)", () => {
    const credential = agentCredential({ authToken: TOKEN, nodeId: "node-z" });
    assert.equal(credential.token, deriveNodeToken(TOKEN, "node-z"));
    assert.equal(credential.derivedFromSharedToken, true);
    assert.equal(agentCredential({ nodeId: "node-z" }).token, undefined);
  });
});
