/**
 * The unary fast path answers every request on the wire exactly as connect's gRPC handler does: two HTTP/2 servers
 * with the same services, interceptors and limits, one with the fast path and one without, get the same raw
 * requests (valid, failing, hostile) and must send the same response headers, DATA bytes, trailers and resets.
 * A counting wrapper shows which requests the fast path served itself and which it handed to connect.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import type net from "node:net";
import { gzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, createConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { Health } from "@ragtune/contracts/grpc-health";
import { JudgeService, ListCriteriaRequestSchema, ScoreRequestSchema } from "@ragtune/contracts/judge";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createCallerAuthInterceptor } from "../src/caller-auth.js";
import { invalidArgument } from "../src/errors.js";
import { withSpecGrpcMessage } from "../src/grpc-message.js";
import { createHttp2StreamHandler } from "../src/h2-handler.js";
import { createHealthService, HealthState } from "../src/health.js";
import { createServerTracingInterceptor } from "../src/interceptors.js";
import { initTelemetry } from "../src/telemetry.js";
import { createUnaryFastPath, type UnaryFastPath } from "../src/unary-fast-path.js";

const spans = new InMemorySpanExporter();
initTelemetry({ serviceName: "fast-path-test", spanProcessors: [new SimpleSpanProcessor(spans)] });

const TOKEN = "secret-token";
const MAX_REQUEST_BYTES = 2048;

/** What the implementation's signal said when a client cancelled a call, one entry per cancelled call. */
const cancelReasons: string[] = [];

const judgeImpl = {
  listCriteria: (_req: unknown, ctx: HandlerContext) => {
    ctx.responseHeader.set("x-answered-by", "judge");
    ctx.responseTrailer.set("x-criteria", "1");
    return { criteria: [{ name: "accuracy", definition: "How well the answer addresses the question." }] };
  },
  score: async (req: { item?: { question: string; answer: string } }, ctx: HandlerContext) => {
    const question = req.item?.question ?? "";
    if (question === "") throw invalidArgument("item.question", "must not be empty");
    if (question === "crash") throw new Error("a bug, not a status");
    if (question === "details") {
      // A detail as a client re-sends one it received (type name and bytes, no descriptor).
      const detail = { type: "google.rpc.ErrorInfo", value: new Uint8Array([0x0a, 0x02, 0x68, 0x69]) };
      throw new ConnectError("with details", Code.FailedPrecondition, { "x-meta": "m" }, [detail as never]);
    }
    if (question === "cancel-me") {
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      cancelReasons.push(ConnectError.from(ctx.signal.reason).message);
      return { itemId: "too late" };
    }
    if (question === "wait") {
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      throw ctx.signal.reason;
    }
    return { itemId: `answered ${question} ${"x".repeat(Number(req.item?.answer) || 0)}` };
  },
};

/** The two servers under test, identical but for the fast path; `served` counts calls the fast path ran. */
async function startServer(fastPath: boolean) {
  const health = new HealthState([JudgeService.typeName], []);
  await health.refresh();
  const implementations = [
    { service: JudgeService, impl: judgeImpl },
    { service: Health, impl: createHealthService(health) },
  ];
  const routerOptions = {
    interceptors: [createCallerAuthInterceptor({ token: TOKEN }), createServerTracingInterceptor("ragtune.test")],
    compressMinBytes: 64,
    acceptCompression: [compressionGzip, compressionBrotli],
    readMaxBytes: MAX_REQUEST_BYTES,
  };
  const router = createConnectRouter(routerOptions);
  const routes = (r: ConnectRouter) => {
    for (const { service, impl } of implementations) r.service(service, impl as never);
  };
  routes(router);
  let served = 0;
  let unary: UnaryFastPath | undefined;
  if (fastPath) {
    const real = createUnaryFastPath(implementations, routerOptions);
    unary = {
      readMaxBytes: real.readMaxBytes,
      get callsInFlight() {
        return real.callsInFlight;
      },
      accept(path, method, header) {
        const call = real.accept(path, method, header);
        return (
          call && {
            run: (...args) => {
              served++;
              return call.run(...args);
            },
          }
        );
      },
    };
  }
  const server = http2.createServer();
  server.on("stream", createHttp2StreamHandler({ handlers: router.handlers, trailers: withSpecGrpcMessage, unary }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => sessions.add(s));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served: () => served,
    callsInFlight: () => unary?.callsInFlight ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Exchange {
  headers: Record<string, unknown>;
  data: string;
  trailers: Record<string, unknown>;
  rstCode: number;
}

/** One raw HTTP/2 request; what came back, without the date header. */
async function exchange(url: string, path: string, headers: http2.OutgoingHttpHeaders, body: Uint8Array) {
  const session = http2.connect(url);
  try {
    return await new Promise<Exchange>((resolve, reject) => {
      const result: Exchange = { headers: {}, data: "", trailers: {}, rstCode: 0 };
      const chunks: Buffer[] = [];
      const stream = session.request({ ":method": "POST", ":path": path, te: "trailers", ...headers });
      stream.on("response", (h) => {
        const { date: _, ...rest } = h;
        result.headers = { ...rest };
      });
      stream.on("trailers", (t) => {
        result.trailers = { ...t };
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", () => {});
      stream.on("close", () => {
        result.data = Buffer.concat(chunks).toString("hex");
        result.rstCode = stream.rstCode ?? 0;
        resolve(result);
      });
      stream.on("error", reject);
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

function envelope(message: Uint8Array, flags = 0): Uint8Array {
  const out = Buffer.alloc(5 + message.byteLength);
  out[0] = flags;
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, 5);
  return out;
}

const score = (question: string, answer = "") =>
  toBinary(ScoreRequestSchema, create(ScoreRequestSchema, { item: { question, answer }, criteria: ["accuracy"] }));
const grpc = { "content-type": "application/grpc", authorization: `Bearer ${TOKEN}` };
const scorePath = "/ragtune.judge.v1.JudgeService/Score";
const listPath = "/ragtune.judge.v1.JudgeService/ListCriteria";

/** Request cases; `fast`: whether the fast path runs the call itself (else connect answers). */
const cases: Array<{
  name: string;
  path: string;
  headers: http2.OutgoingHttpHeaders;
  body: Uint8Array;
  fast: boolean;
}> = [
  {
    name: "ok, response headers and trailers set by the implementation",
    path: listPath,
    headers: grpc,
    body: envelope(toBinary(ListCriteriaRequestSchema, create(ListCriteriaRequestSchema))),
    fast: true,
  },
  { name: "ok", path: scorePath, headers: grpc, body: envelope(score("how long?")), fast: true },
  {
    name: "ok, application/grpc+proto",
    path: scorePath,
    headers: { ...grpc, "content-type": "application/grpc+proto" },
    body: envelope(score("q")),
    fast: true,
  },
  {
    name: "response compressed for a client that accepts gzip",
    path: scorePath,
    headers: { ...grpc, "grpc-accept-encoding": "gzip" },
    body: envelope(score("q", "200")),
    fast: true,
  },
  {
    name: "INVALID_ARGUMENT naming the field, with details",
    path: scorePath,
    headers: grpc,
    body: envelope(score("")),
    fast: true,
  },
  {
    name: "error details and metadata",
    path: scorePath,
    headers: grpc,
    body: envelope(score("details")),
    fast: true,
  },
  {
    name: "an implementation's plain Error: INTERNAL",
    path: scorePath,
    headers: grpc,
    body: envelope(score("crash")),
    fast: true,
  },
  {
    name: "deadline",
    path: scorePath,
    headers: { ...grpc, "grpc-timeout": "50m" },
    body: envelope(score("wait")),
    fast: true,
  },
  {
    name: "no token: UNAUTHENTICATED",
    path: scorePath,
    headers: { "content-type": "application/grpc" },
    body: envelope(score("q")),
    fast: true,
  },
  {
    name: "wrong token",
    path: scorePath,
    headers: { ...grpc, authorization: "Bearer nope" },
    body: envelope(score("q")),
    fast: true,
  },
  {
    name: "health check without a token",
    path: "/grpc.health.v1.Health/Check",
    headers: { "content-type": "application/grpc" },
    body: envelope(new Uint8Array()),
    fast: true,
  },
  {
    name: "unimplemented method",
    path: "/ragtune.judge.v1.JudgeService/ScoreBatch",
    headers: grpc,
    body: envelope(new Uint8Array()),
    fast: true,
  },
  {
    name: "bytes that are not the message",
    path: scorePath,
    headers: grpc,
    body: envelope(Buffer.from([0x0a, 0xff, 0xff])),
    fast: true,
  },
  {
    name: "message over the size limit",
    path: scorePath,
    headers: grpc,
    body: envelope(score("q", "0".repeat(MAX_REQUEST_BYTES))),
    fast: false,
  },
  {
    name: "two messages",
    path: scorePath,
    headers: grpc,
    body: Buffer.concat([envelope(score("a")), envelope(score("b"))]),
    fast: false,
  },
  { name: "no message", path: scorePath, headers: grpc, body: new Uint8Array(), fast: false },
  {
    name: "incomplete message",
    path: scorePath,
    headers: grpc,
    body: envelope(score("q")).subarray(0, 9),
    fast: false,
  },
  {
    name: "compressed request",
    path: scorePath,
    headers: { ...grpc, "grpc-encoding": "gzip" },
    body: envelope(gzipSync(score("zipped")), 1),
    fast: false,
  },
  {
    name: "compressed flag without grpc-encoding",
    path: scorePath,
    headers: grpc,
    body: envelope(gzipSync(score("zipped")), 1),
    fast: false,
  },
  {
    name: "unknown grpc-encoding",
    path: scorePath,
    headers: { ...grpc, "grpc-encoding": "snappy" },
    body: envelope(score("q")),
    fast: false,
  },
  {
    name: "bad grpc-timeout",
    path: scorePath,
    headers: { ...grpc, "grpc-timeout": "soon" },
    body: envelope(score("q")),
    fast: false,
  },
  {
    name: "gRPC-Web",
    path: scorePath,
    headers: { ...grpc, "content-type": "application/grpc-web+proto" },
    body: envelope(score("q")),
    fast: false,
  },
  {
    name: "gRPC with JSON",
    path: scorePath,
    headers: { ...grpc, "content-type": "application/grpc+json" },
    body: envelope(Buffer.from('{"item":{"question":"q"}}')),
    fast: false,
  },
  {
    name: "Connect protocol JSON",
    path: scorePath,
    headers: { ...grpc, "content-type": "application/json" },
    body: Buffer.from('{"item":{"question":"q"}}'),
    fast: false,
  },
  { name: "unknown path", path: "/nope.Service/Method", headers: grpc, body: envelope(score("q")), fast: false },
];

describe("unary fast path", () => {
  let fast: Awaited<ReturnType<typeof startServer>>;
  let connect: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    fast = await startServer(true);
    connect = await startServer(false);
  });
  after(async () => {
    await fast.close();
    await connect.close();
  });

  for (const c of cases) {
    it(`answers as connect does: ${c.name}`, async () => {
      const servedBefore = fast.served();
      const viaConnect = await exchange(connect.url, c.path, c.headers, c.body);
      const viaFast = await exchange(fast.url, c.path, c.headers, c.body);
      assert.deepEqual(viaFast, viaConnect);
      assert.equal(
        fast.served() - servedBefore,
        c.fast ? 1 : 0,
        c.fast ? "served by the fast path" : "handed to connect",
      );
    });
  }

  it("checks what it compares: the answers differ where they must", async () => {
    const ok = await exchange(fast.url, scorePath, grpc, envelope(score("q")));
    assert.equal(ok.trailers["grpc-status"], "0");
    assert.match(Buffer.from(ok.data, "hex").toString(), /answered q/);
    const invalid = await exchange(fast.url, scorePath, grpc, envelope(score("")));
    assert.equal(invalid.trailers["grpc-status"], "3");
    assert.match(String(invalid.trailers["grpc-message"]), /item\.question/);
    const detailed = await exchange(fast.url, scorePath, grpc, envelope(score("details")));
    assert.equal(detailed.trailers["grpc-status"], "9");
    assert.equal(detailed.trailers["x-meta"], "m");
    assert.ok(detailed.trailers["grpc-status-details-bin"], "error details travel in the trailers");
    const late = await exchange(fast.url, scorePath, { ...grpc, "grpc-timeout": "50m" }, envelope(score("wait")));
    assert.equal(late.trailers["grpc-status"], "4");
    const big = await exchange(fast.url, scorePath, grpc, envelope(score("q", "0".repeat(MAX_REQUEST_BYTES))));
    assert.equal(big.trailers["grpc-status"], "8");
    const gzipped = await exchange(
      fast.url,
      scorePath,
      { ...grpc, "grpc-accept-encoding": "gzip" },
      envelope(score("q", "200")),
    );
    assert.equal(gzipped.headers["grpc-encoding"], "gzip");
    assert.equal(gzipped.data.slice(0, 2), "01", "the response message is compressed");
  });

  it("ends the implementation's signal with the same reason when the client cancels", async () => {
    for (const server of [connect, fast]) {
      const session = http2.connect(server.url);
      const stream = session.request({ ":method": "POST", ":path": scorePath, te: "trailers", ...grpc });
      stream.on("error", () => {});
      stream.end(envelope(score("cancel-me")));
      await new Promise((resolve) => setTimeout(resolve, 100));
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await new Promise((resolve) => setTimeout(resolve, 100));
      session.close();
    }
    assert.equal(cancelReasons.length, 2);
    assert.equal(cancelReasons[1], cancelReasons[0]);
    assert.match(cancelReasons[0], /canceled/);
  });

  it("leaves no call context behind once the answers are out (ok, failed, timed out, cancelled)", async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(fast.callsInFlight(), 0);
  });

  it("records a server span per call with its status, as on connect's path", async () => {
    spans.reset();
    await exchange(fast.url, scorePath, grpc, envelope(score("")));
    await exchange(fast.url, scorePath, grpc, envelope(score("q")));
    const recorded = spans.getFinishedSpans().map((s) => [s.name, s.attributes["rpc.grpc.status_code"]]);
    assert.deepEqual(recorded, [
      ["ragtune.judge.v1.JudgeService/Score", 3],
      ["ragtune.judge.v1.JudgeService/Score", 0],
    ]);
  });

  it("ends the call's signal with an AbortError once the answer is out, as connect does", async () => {
    const seen: string[] = [];
    const impl = {
      score: async (_req: unknown, ctx: HandlerContext) => {
        ctx.signal.addEventListener("abort", () => seen.push(String((ctx.signal.reason as Error)?.name)), {
          once: true,
        });
        return { itemId: "done" };
      },
    };
    const fastPath = createUnaryFastPath([{ service: JudgeService, impl }], {});
    const router = createConnectRouter();
    router.service(JudgeService, impl as never);
    const server = http2.createServer();
    server.on("stream", createHttp2StreamHandler({ handlers: router.handlers, unary: fastPath }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    const answer = await exchange(`http://127.0.0.1:${port}`, scorePath, grpc, envelope(score("q")));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answer.trailers["grpc-status"], "0");
    assert.deepEqual(seen, ["AbortError"], "connect ends the call's signal with an AbortError once the answer is out");
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
