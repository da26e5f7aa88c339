import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { Code, type ConnectError, createClient } from "@connectrpc/connect";
import { compressionGzip, createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@ragtune/contracts/grpc-health";
import { ServerReflection } from "@ragtune/contracts/grpc-reflection";
import { JudgeService } from "@ragtune/contracts/judge";
import { context, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import {
  createServiceClient,
  createServiceServer,
  initTelemetry,
  invalidArgument,
  type ServiceServer,
} from "../src/index.js";

const spans = new InMemorySpanExporter();
initTelemetry({ serviceName: "runtime-test", spanProcessors: [new SimpleSpanProcessor(spans)] });

/** A judge whose ListCriteria answers, whose Score validates, and whose other RPCs are left unimplemented. */
const judgeImpl = {
  listCriteria: () => ({ criteria: [{ name: "accuracy", definition: "test" }] }),
  score: async (req: { item?: { question: string } }) => {
    if (!req.item?.question) throw invalidArgument("item.question", "must not be empty");
    await new Promise((r) => setTimeout(r, 300));
    return { itemId: "slow" };
  },
};

describe("service server over real sockets", () => {
  let server: ServiceServer;
  let backendUp = true;
  let url: string;
  let httpUrl: string;

  before(async () => {
    server = createServiceServer({
      name: "judge",
      services: [{ service: JudgeService, impl: judgeImpl }],
      readiness: [
        {
          name: "backend",
          check: async () => {
            if (!backendUp) throw new Error("connection refused");
          },
        },
      ],
      healthIntervalMs: 50,
    });
    url = (await server.listen("127.0.0.1:0", "127.0.0.1:0")).url;
    httpUrl = server.httpAddress!.url;
  });
  after(() => server.close(500));

  it("answers gRPC calls and UNIMPLEMENTED for RPCs not implemented yet", async () => {
    const judge = createServiceClient(JudgeService, url);
    const res = await judge.listCriteria({});
    assert.equal(res.criteria[0].name, "accuracy");
    await assert.rejects(judge.scoreBatch({}), (e: ConnectError) => e.code === Code.Unimplemented);
  });

  it("names the bad field in INVALID_ARGUMENT", async () => {
    const judge = createServiceClient(JudgeService, url);
    await assert.rejects(
      judge.score({ item: { question: "" } }),
      (e: ConnectError) => e.code === Code.InvalidArgument && e.rawMessage.startsWith("item.question:"),
    );
  });

  it("rejects malformed bodies and unknown enum names with INVALID_ARGUMENT over Connect/JSON", async () => {
    const garbage = await fetch(`${httpUrl}/ragtune.judge.v1.JudgeService/ListCriteria`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(garbage.status, 400);
    assert.equal(((await garbage.json()) as { code: string }).code, "invalid_argument");
    const badEnum = await fetch(`${httpUrl}/ragtune.judge.v1.JudgeService/Score`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ judge: { mode: "SCORING_MODE_BOGUS" } }),
    });
    assert.equal(badEnum.status, 400);
    assert.equal(((await badEnum.json()) as { code: string }).code, "invalid_argument");
  });

  it("speaks Connect/JSON on the HTTP/1.1 port", async () => {
    const res = await fetch(`${httpUrl}/ragtune.judge.v1.JudgeService/ListCriteria`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { criteria: [{ name: "accuracy", definition: "test" }] });
  });

  it("lists services and serves descriptors by reflection", async () => {
    const reflection = createServiceClient(ServerReflection, url);
    async function* requests() {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
      yield { messageRequest: { case: "fileContainingSymbol" as const, value: "ragtune.judge.v1.JudgeService.Score" } };
      yield { messageRequest: { case: "fileByFilename" as const, value: "no/such.proto" } };
    }
    const answers = [];
    for await (const res of reflection.serverReflectionInfo(requests())) answers.push(res.messageResponse);
    assert.equal(answers[0].case, "listServicesResponse");
    const names = answers[0].case === "listServicesResponse" ? answers[0].value.service.map((s) => s.name) : [];
    assert.deepEqual(names.sort(), [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "ragtune.judge.v1.JudgeService",
    ]);
    assert.equal(answers[1].case, "fileDescriptorResponse");
    // judge.proto plus its imports (common.proto).
    if (answers[1].case === "fileDescriptorResponse") assert.ok(answers[1].value.fileDescriptorProto.length >= 2);
    assert.equal(answers[2].case, "errorResponse");
  });

  it("reports NOT_SERVING while a backend is down and recovers by itself", async () => {
    const health = createServiceClient(Health, url);
    assert.equal((await health.check({ service: "" })).status, Status.SERVING);
    backendUp = false;
    await waitFor(
      async () => (await health.check({ service: "ragtune.judge.v1.JudgeService" })).status === Status.NOT_SERVING,
    );
    backendUp = true;
    await waitFor(async () => (await health.check({ service: "" })).status === Status.SERVING);
    await assert.rejects(health.check({ service: "nope" }), (e: ConnectError) => e.code === Code.NotFound);
  });

  it("makes the server span a child of the caller's span", async () => {
    spans.reset();
    const tracer = trace.getTracer("test");
    const parent = tracer.startSpan("caller");
    await context.with(trace.setSpan(context.active(), parent), () =>
      createServiceClient(JudgeService, url).listCriteria({}),
    );
    parent.end();
    const server = spans
      .getFinishedSpans()
      .find((s) => s.name === "ragtune.judge.v1.JudgeService/ListCriteria" && s.kind === 1);
    const client = spans
      .getFinishedSpans()
      .find((s) => s.name === "ragtune.judge.v1.JudgeService/ListCriteria" && s.kind === 2);
    assert.ok(server && client, "both client and server spans recorded");
    assert.equal(server.spanContext().traceId, parent.spanContext().traceId);
    assert.equal(server.parentSpanContext?.spanId, client.spanContext().spanId);
    assert.equal(client.parentSpanContext?.spanId, parent.spanContext().spanId);
    assert.ok(!spans.getFinishedSpans().some((s) => s.name.startsWith("grpc.health")), "health checks are not traced");
  });
});

describe("bearer-token auth", () => {
  let server: ServiceServer;
  let url: string;
  before(async () => {
    server = createServiceServer({
      name: "judge",
      services: [{ service: JudgeService, impl: judgeImpl }],
      authToken: "s3cret",
    });
    url = (await server.listen()).url;
  });
  after(() => server.close(500));

  it("answers UNAUTHENTICATED without the token, and health checks without one", async () => {
    await assert.rejects(
      createServiceClient(JudgeService, url).listCriteria({}),
      (e: ConnectError) => e.code === Code.Unauthenticated,
    );
    await assert.rejects(
      createServiceClient(JudgeService, url, { authToken: "wrong" }).listCriteria({}),
      (e: ConnectError) => e.code === Code.Unauthenticated,
    );
    const ok = await createServiceClient(JudgeService, url, { authToken: "s3cret" }).listCriteria({});
    assert.equal(ok.criteria.length, 1);
    assert.equal((await createServiceClient(Health, url).check({ service: "" })).status, Status.SERVING);
  });
});

describe("response compression", () => {
  const definition = "spelled out at some length. ".repeat(200);
  const services = [
    { service: JudgeService, impl: { listCriteria: () => ({ criteria: [{ name: "a", definition }] }) } },
  ];

  it("answers uncompressed by default, even to a client that accepts gzip, and gzip above compressMinBytes", async () => {
    const plain = createServiceServer({ name: "judge", services });
    const gzip = createServiceServer({ name: "judge", services, compressMinBytes: 1024 });
    try {
      assert.equal(await firstResponseFlags((await plain.listen()).url), 0, "not compressed");
      assert.equal(await firstResponseFlags((await gzip.listen()).url), 1, "compressed");
      // Either way connect clients read the answer, and gzip-compressed requests are accepted.
      for (const server of [plain, gzip]) {
        const transport = createGrpcTransport({
          baseUrl: server.address!.url,
          sendCompression: compressionGzip,
          compressMinBytes: 0,
        });
        assert.equal((await createClient(JudgeService, transport).listCriteria({})).criteria[0].definition, definition);
      }
    } finally {
      await Promise.all([plain.close(500), gzip.close(500)]);
    }
  });
});

/** Flags byte of the first message ListCriteria answers over raw gRPC to a client accepting gzip (1: compressed). */
async function firstResponseFlags(url: string): Promise<number> {
  const session = http2.connect(url);
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": "/ragtune.judge.v1.JudgeService/ListCriteria",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-accept-encoding": "gzip",
    });
    stream.end(Buffer.alloc(5)); // one empty, uncompressed message
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)[0];
  } finally {
    session.close();
  }
}

describe("graceful close", () => {
  it("turns NOT_SERVING, refuses new connections and lets an in-flight call finish", async () => {
    const server = createServiceServer({ name: "judge", services: [{ service: JudgeService, impl: judgeImpl }] });
    const { url } = await server.listen();
    const judge = createClient(JudgeService, createGrpcTransport({ baseUrl: url }));
    const inFlight = judge.score({ item: { question: "slow one" } });
    await new Promise((r) => setTimeout(r, 50));
    const closing = server.close(5000);
    assert.equal(server.health.status(""), Status.NOT_SERVING);
    assert.equal((await inFlight).itemId, "slow");
    await closing;
    await assert.rejects(
      createClient(JudgeService, createGrpcTransport({ baseUrl: url })).listCriteria({}),
      (e: ConnectError) => e.code === Code.Unavailable,
    );
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}
