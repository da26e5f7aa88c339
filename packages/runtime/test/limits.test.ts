/**
 * Bounded inputs over real sockets: the request size limit (connect's own default is 4 GiB), the HTTP/2
 * concurrent-stream cap, and the default deadline of unary client calls.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { JudgeService } from "@ragtune/contracts/judge";
import {
  createServiceClient,
  createServiceServer,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_MAX_REQUEST_BYTES,
  type ServiceServer,
  setDefaultCallTimeoutMs,
} from "../src/index.js";

let lastTimeoutHeader: string | null = null;

/** Score echoes the question's length; ListCriteria records the deadline it was given and waits for it. */
const judgeImpl = {
  score: (req: { item?: { question: string } }) => ({ itemId: String(req.item?.question.length ?? 0) }),
  listCriteria: async (_req: unknown, context: HandlerContext) => {
    lastTimeoutHeader = context.requestHeader.get("grpc-timeout");
    if (context.requestHeader.get("x-hang") === "1") {
      await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve()));
    }
    return { criteria: [] };
  },
};

const oversized = (bytes: number) => ({ item: { question: "x".repeat(bytes) } });

/** The judge above on a loopback port, with the server options given. */
async function listeningJudge(options: { maxRequestBytes?: number } = {}): Promise<ServiceServer> {
  const server = createServiceServer({
    name: "judge",
    services: [{ service: JudgeService, impl: judgeImpl }],
    tracing: false,
    ...options,
  });
  await server.listen("127.0.0.1:0");
  return server;
}

describe("request size limit", () => {
  let server: ServiceServer;
  let small: ServiceServer;
  before(async () => {
    server = await listeningJudge();
    small = await listeningJudge({ maxRequestBytes: 64 * 1024 });
  });
  after(async () => {
    await server.close(200);
    await small.close(200);
  });

  it("refuses a request over the default 16 MiB with RESOURCE_EXHAUSTED, and the server keeps serving", async () => {
    assert.equal(DEFAULT_MAX_REQUEST_BYTES, 16 * 1024 * 1024);
    const client = createServiceClient(JudgeService, server.address!.url, { tracing: false });
    await assert.rejects(client.score(oversized(DEFAULT_MAX_REQUEST_BYTES + 1)), (error: unknown) => {
      const err = ConnectError.from(error);
      assert.equal(err.code, Code.ResourceExhausted, err.message);
      assert.match(err.rawMessage, /message size \d+ is larger than configured readMaxBytes 16777216/);
      return true;
    });
    const fine = await client.score(oversized(1024 * 1024));
    assert.equal(fine.itemId, String(1024 * 1024));
  });

  it("applies a configured, smaller limit the same way", async () => {
    const client = createServiceClient(JudgeService, small.address!.url, { tracing: false });
    await assert.rejects(client.score(oversized(65 * 1024)), (error: unknown) => {
      assert.equal(ConnectError.from(error).code, Code.ResourceExhausted);
      return true;
    });
    assert.equal((await client.score(oversized(60 * 1024))).itemId, String(60 * 1024));
  });
});

describe("HTTP/2 concurrent streams", () => {
  it("advertises the cap in the server's SETTINGS (default 1000, configurable)", async () => {
    const settingsOf = async (server: ServiceServer) => {
      await server.listen("127.0.0.1:0");
      const session = http2.connect(server.address!.url);
      try {
        return await new Promise<http2.Settings>((resolve) => session.once("remoteSettings", resolve));
      } finally {
        session.close();
        await server.close(100);
      }
    };
    const services = [{ service: JudgeService, impl: judgeImpl }];
    assert.equal((await settingsOf(createServiceServer({ name: "a", services }))).maxConcurrentStreams, 1000);
    const capped = createServiceServer({ name: "b", services, maxConcurrentStreams: 8 });
    assert.equal((await settingsOf(capped)).maxConcurrentStreams, 8);
  });
});

describe("default deadline of client calls", () => {
  let server: ServiceServer;
  before(async () => {
    server = await listeningJudge();
  });
  after(() => server.close(200));

  it("sends a 10-minute deadline on unary calls that set none", async () => {
    assert.equal(DEFAULT_CALL_TIMEOUT_MS, 600_000);
    await createServiceClient(JudgeService, server.address!.url, { tracing: false }).listCriteria({});
    assert.equal(lastTimeoutHeader, "600000m");
    setDefaultCallTimeoutMs(42_000);
    try {
      await createServiceClient(JudgeService, server.address!.url, { tracing: false }).listCriteria({});
      assert.equal(lastTimeoutHeader, "42000m", "RAGTUNE_CALL_TIMEOUT_MS through runService/runWorker");
    } finally {
      setDefaultCallTimeoutMs(DEFAULT_CALL_TIMEOUT_MS);
    }
  });

  it("ends a hung call at the configured deadline with DEADLINE_EXCEEDED; a call's own deadline wins", async () => {
    const client = createServiceClient(JudgeService, server.address!.url, { tracing: false, timeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(client.listCriteria({}, { headers: { "x-hang": "1" } }), (error: unknown) => {
      assert.equal(ConnectError.from(error).code, Code.DeadlineExceeded);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
    await client.listCriteria({}, { timeoutMs: 5000 });
    assert.equal(lastTimeoutHeader, "5000m");
  });
});
