import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JudgeService } from "@ragtune/contracts/judge";
import { createLeanGrpcTransport } from "../src/lean-grpc-transport.js";
import { createServiceServer, freePort, invalidArgument, notFound, type ServiceServer } from "../src/index.js";

/** A judge whose RPCs exercise answers, errors with metadata, slowness and headers. */
const judgeImpl = {
  listCriteria: (_request: unknown, context: { requestHeader: Headers; responseHeader: Headers }) => {
    context.responseHeader.set("x-echo", context.requestHeader.get("x-ask") ?? "none");
    return { criteria: [{ name: "accuracy", definition: "é ✓ — unicode survives" }] };
  },
  score: async (request: { item?: { question: string; itemId: string } }) => {
    if (!request.item?.question) throw invalidArgument("item.question", "must not be empty");
    if (request.item.question === "missing") throw notFound("criterion", "nonesuch");
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { itemId: request.item.itemId };
  },
};

/** Both transports answer every case alike: the lean one is a drop-in for connect-node's. */
describe("lean gRPC transport, against the runtime's server", () => {
  let server: ServiceServer;
  let url: string;

  before(async () => {
    server = createServiceServer({ name: "judge", services: [{ service: JudgeService, impl: judgeImpl }] });
    url = (await server.listen("127.0.0.1:0")).url;
  });
  after(() => server.close(500));

  const transports = {
    lean: () => createLeanGrpcTransport({ baseUrl: url }),
    "connect-node": () => createGrpcTransport({ baseUrl: url }),
  };

  for (const [name, makeTransport] of Object.entries(transports)) {
    it(`${name}: answers, with request and response headers`, async () => {
      const judge = createClient(JudgeService, makeTransport());
      let echoed: string | null = null;
      const res = await judge.listCriteria(
        {},
        { headers: { "x-ask": "hello" }, onHeader: (headers) => (echoed = headers.get("x-echo")) },
      );
      assert.equal(res.criteria[0]!.definition, "é ✓ — unicode survives");
      assert.equal(echoed, "hello");
    });

    it(`${name}: error codes and messages as the server sent them`, async () => {
      const judge = createClient(JudgeService, makeTransport());
      await assert.rejects(judge.score({ item: { question: "" } }), (error: ConnectError) => {
        assert.equal(error.code, Code.InvalidArgument);
        assert.match(error.rawMessage, /^item\.question: must not be empty/);
        return true;
      });
      await assert.rejects(judge.score({ item: { question: "missing" } }), (error: ConnectError) => {
        assert.equal(error.code, Code.NotFound);
        return true;
      });
      await assert.rejects(judge.scoreBatch({}), (error: ConnectError) => error.code === Code.Unimplemented);
    });

    it(`${name}: deadlines and cancellation`, async () => {
      const judge = createClient(JudgeService, makeTransport());
      await assert.rejects(
        judge.score({ item: { question: "q", itemId: "1" } }, { timeoutMs: 50 }),
        (error: ConnectError) => error.code === Code.DeadlineExceeded,
      );
      const controller = new AbortController();
      const call = judge.score({ item: { question: "q", itemId: "2" } }, { signal: controller.signal });
      setTimeout(() => controller.abort(), 30);
      await assert.rejects(call, (error: ConnectError) => error.code === Code.Canceled);
      assert.equal((await judge.score({ item: { question: "q", itemId: "3" } })).itemId, "3");
    });

    it(`${name}: many calls in flight on one connection`, async () => {
      const judge = createClient(JudgeService, makeTransport());
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => judge.score({ item: { question: "q", itemId: String(i) } })),
      );
      assert.deepEqual(
        answers.map((a) => a.itemId),
        Array.from({ length: 50 }, (_, i) => String(i)),
      );
    });
  }

  it("says UNAVAILABLE where nothing listens", async () => {
    const port = await freePort();
    const judge = createClient(JudgeService, createLeanGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    await assert.rejects(judge.listCriteria({}), (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.Unavailable);
      return true;
    });
  });

  it("says UNAVAILABLE when the server's process dies mid-call (no response headers), so callers retry", async () => {
    // The server reads the request, then its connection drops, as when its process is SIGKILLed.
    const dying = http2.createServer();
    const sockets: Socket[] = [];
    dying.on("connection", (socket: Socket) => sockets.push(socket));
    dying.on("stream", () => {
      for (const socket of sockets) socket.destroy();
    });
    await new Promise<void>((resolve) => dying.listen(0, "127.0.0.1", resolve));
    const { port } = dying.address() as AddressInfo;
    try {
      const judge = createClient(JudgeService, createLeanGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
      await assert.rejects(judge.listCriteria({}), (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        assert.equal(error.code, Code.Unavailable, error.rawMessage);
        return true;
      });
    } finally {
      await new Promise((resolve) => dying.close(resolve));
    }
  });
});
