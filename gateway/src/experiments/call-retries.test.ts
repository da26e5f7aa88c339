/** Which failures the gateway tries again, how often, how long it waits, and the deadline every call gets. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { GeneratorService } from "@ragtune/contracts/generator";
import { backoffMs, type RetryPolicy, resilientClient, withRetries } from "./call-retries.js";

const policy: RetryPolicy = {
  attempts: 4,
  baseBackoffMs: 1,
  maxBackoffMs: 4,
  totalMs: 10_000,
  callTimeoutMs: 200,
  streamTimeoutMs: 1000,
};

function failing(codes: Code[]) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    attempt: async () => {
      const code = codes[calls++];
      if (code !== undefined) throw new ConnectError("test", code);
      return "ok";
    },
  };
}

describe("call retries", () => {
  it("retries UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED until the call succeeds", async () => {
    const f = failing([Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted]);
    assert.equal(await withRetries("m", policy, undefined, f.attempt), "ok");
    assert.equal(f.calls, 4);
  });

  it("gives up after the attempts allowed, with the last error", async () => {
    const f = failing(Array(10).fill(Code.Unavailable));
    await assert.rejects(withRetries("m", policy, undefined, f.attempt), { code: Code.Unavailable });
    assert.equal(f.calls, 4);
  });

  it("never retries a refusal a retry cannot fix", async () => {
    for (const code of [Code.InvalidArgument, Code.NotFound, Code.FailedPrecondition, Code.PermissionDenied]) {
      const f = failing([code]);
      await assert.rejects(withRetries("m", policy, undefined, f.attempt), { code });
      assert.equal(f.calls, 1, Code[code]);
    }
  });

  it("retries a call the peer cancelled (a stream cut by its restart), not one the caller cancelled", async () => {
    const f = failing([Code.Canceled]);
    assert.equal(await withRetries("m", policy, new AbortController().signal, f.attempt), "ok");
    assert.equal(f.calls, 2);
  });

  it("stops retrying when the caller cancels", async () => {
    const controller = new AbortController();
    const f = failing(Array(10).fill(Code.Unavailable));
    controller.abort(new Error("cancelled"));
    await assert.rejects(withRetries("m", policy, controller.signal, f.attempt));
    assert.equal(f.calls, 1);
  });

  it("waits a jittered exponential backoff, capped", () => {
    const at = (random: number, retry: number) =>
      backoffMs({ ...policy, baseBackoffMs: 100, maxBackoffMs: 1000, random: () => random }, retry);
    assert.equal(at(1, 0), 100);
    assert.equal(at(1, 3), 800);
    assert.equal(at(1, 10), 1000);
    assert.equal(at(0.5, 2), 200);
    assert.equal(at(0, 5), 0);
  });

  it("gives every unary call the call deadline, over a client", async () => {
    let calls = 0;
    const transport = createRouterTransport(({ service }) => {
      service(GeneratorService, {
        generate: async (_req, ctx) => {
          calls++;
          // Slower than the deadline: only the deadline ends it.
          await new Promise((resolve) => setTimeout(resolve, 5000));
          ctx.signal.throwIfAborted();
          return { answer: "late" };
        },
      });
    });
    const client = resilientClient(GeneratorService, createClient(GeneratorService, transport), {
      ...policy,
      attempts: 2,
      callTimeoutMs: 50,
    });
    const started = Date.now();
    await assert.rejects(client.generate({ question: "q" }), { code: Code.DeadlineExceeded });
    assert.equal(calls, 2, "a deadline is retried like UNAVAILABLE");
    assert.ok(Date.now() - started < 4000, "the deadline cut the calls short");
  });
});
