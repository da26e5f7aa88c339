/**
 * The fast path's handler context against connect's createHandlerContext: the same fields, and the same signal
 * reasons when the call ends, its deadline passes, its client goes away or the server shuts down.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConnectError, createHandlerContext, createServiceImplSpec } from "@connectrpc/connect";
import { JudgeService } from "@ragtune/contracts/judge";
import { createCallContext, createLiveCalls } from "../src/call-context.js";

const spec = createServiceImplSpec(JudgeService, {}).methods.score;

/** Both contexts for the same call, each with its own request and shutdown signals. */
function both(timeoutMs?: number, setup?: (request: AbortController, shutdown: AbortController) => void) {
  const make = (kind: "connect" | "fast") => {
    const request = new AbortController();
    const shutdown = new AbortController();
    setup?.(request, shutdown);
    const init = {
      service: JudgeService,
      method: spec.method,
      requestMethod: "POST",
      protocolName: "grpc",
      timeoutMs,
      requestSignal: request.signal,
      url: "http://127.0.0.1/ragtune.judge.v1.JudgeService/Score",
    };
    const live = createLiveCalls(shutdown.signal);
    const context =
      kind === "connect"
        ? createHandlerContext({
            ...spec,
            ...init,
            shutdownSignal: shutdown.signal,
            requestHeader: { "x-a": "1" },
            responseHeader: { "content-type": "application/grpc+proto" },
            responseTrailer: { "grpc-status": "0" },
          })
        : createCallContext(
            {
              ...init,
              spec,
              requestHeader: new Headers({ "x-a": "1" }),
              responseHeader: new Headers({ "content-type": "application/grpc+proto" }),
              responseTrailer: new Headers({ "grpc-status": "0" }),
            },
            live,
          );
    return { context, request, shutdown, live };
  };
  return { connect: make("connect"), fast: make("fast") };
}

/** What an abort reason says: its type, name, message and code. */
function describeReason(reason: unknown) {
  if (reason instanceof ConnectError) return { type: "ConnectError", code: reason.code, message: reason.message };
  const error = reason as Error;
  return { type: error?.constructor?.name, name: error?.name, message: error?.message };
}

describe("call context", () => {
  it("has connect's fields", () => {
    const { connect, fast } = both(1000);
    for (const key of ["service", "method", "requestMethod", "protocolName", "url", "kind", "impl"] as const) {
      assert.equal((fast.context as never)[key], (connect.context as never)[key], key);
    }
    assert.deepEqual([...fast.context.requestHeader], [...connect.context.requestHeader]);
    assert.deepEqual([...fast.context.responseHeader], [...connect.context.responseHeader]);
    assert.deepEqual([...fast.context.responseTrailer], [...connect.context.responseTrailer]);
    for (const left of [fast.context.timeoutMs(), connect.context.timeoutMs()]) {
      assert.ok(left !== undefined && left <= 1000 && left > 500, `time left ${left} ms of a 1000 ms deadline`);
    }
    assert.equal(both().fast.context.timeoutMs(), undefined);
    assert.ok(fast.context.values);
    fast.context.abort();
    connect.context.abort();
  });

  it("ends with an AbortError when the call completes, and leaves no call behind", () => {
    const { connect, fast } = both(60_000);
    assert.equal(fast.live.size, 1);
    connect.context.abort();
    fast.context.abort();
    assert.deepEqual(describeReason(fast.context.signal.reason), describeReason(connect.context.signal.reason));
    assert.equal(fast.context.signal.reason.name, "AbortError");
    assert.equal(fast.live.size, 0);
  });

  it("ends with connect's DEADLINE_EXCEEDED when the deadline passes", async () => {
    const { connect, fast } = both(20);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.ok(fast.context.signal.aborted);
    assert.deepEqual(describeReason(fast.context.signal.reason), describeReason(connect.context.signal.reason));
    assert.equal(describeReason(fast.context.signal.reason).message, "[deadline_exceeded] the operation timed out");
    const expired = both(0);
    assert.deepEqual(
      describeReason(expired.fast.context.signal.reason),
      describeReason(expired.connect.context.signal.reason),
    );
  });

  it("ends with the request signal's reason when the client goes away", () => {
    const { connect, fast } = both(60_000);
    const gone = new ConnectError("http/2 stream closed with error code 0x8", 1);
    connect.request.abort(gone);
    fast.request.abort(gone);
    assert.equal(fast.context.signal.reason, gone);
    assert.equal(connect.context.signal.reason, gone);
    assert.equal(fast.live.size, 0);
    const before = both(undefined, (request) => request.abort(gone));
    assert.equal(before.fast.context.signal.reason, before.connect.context.signal.reason);
  });

  it("ends every live call when the server shuts down", () => {
    const { connect, fast } = both();
    connect.shutdown.abort();
    fast.shutdown.abort();
    assert.ok(fast.context.signal.aborted);
    assert.deepEqual(describeReason(fast.context.signal.reason), describeReason(connect.context.signal.reason));
    const after = both(undefined, (_, shutdown) => shutdown.abort());
    assert.ok(after.fast.context.signal.aborted, "a call made after the shutdown starts ended");
    assert.deepEqual(
      describeReason(after.fast.context.signal.reason),
      describeReason(after.connect.context.signal.reason),
    );
  });

  it("keeps the first reason, as AbortController does", () => {
    const { fast } = both(60_000);
    const first = new Error("first");
    fast.context.abort(first);
    fast.context.abort(new Error("second"));
    fast.request.abort(new Error("third"));
    assert.equal(fast.context.signal.reason, first);
  });
});
