import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { CollectionIndexedSchema } from "@ragtune/contracts/events";
import { context, trace } from "@opentelemetry/api";
import {
  connectNats,
  EVENTS_STREAM,
  initTelemetry,
  type LocalNats,
  NatsUnavailableError,
  startNatsServer,
  startTestNats,
} from "../src/index.js";

initTelemetry({ serviceName: "runtime-nats-test" });

describe("NATS", () => {
  let nats: LocalNats;
  before(async () => {
    nats = await startTestNats();
  });
  after(() => nats.stop());

  it("publishes events with a dedup id, meta and the trace context, once per id", async () => {
    const handle = await connectNats({ url: nats.url, name: "test" });
    const span = trace.getTracer("test").startSpan("parent");
    await context.with(trace.setSpan(context.active(), span), () =>
      handle.publishEvent("ragtune.retriever.collection.indexed", CollectionIndexedSchema, {
        collection: "c1",
        chunksIndexed: 42n,
      }),
    );
    span.end();
    const stored = await handle.jsm.streams.getMessage(EVENTS_STREAM, {
      last_by_subj: "ragtune.retriever.collection.indexed",
    });
    assert.ok(stored);
    const event = fromBinary(CollectionIndexedSchema, stored.data);
    assert.equal(event.collection, "c1");
    assert.equal(event.chunksIndexed, 42n);
    assert.ok(event.meta?.eventId, "meta filled in");
    assert.equal(stored.header.get("Nats-Msg-Id"), event.meta.eventId);
    assert.match(stored.header.get("traceparent"), new RegExp(`^00-${span.spanContext().traceId}-`));
    // Same id again: JetStream drops the duplicate.
    const before = (await handle.jsm.streams.info(EVENTS_STREAM)).state.messages;
    await handle.publishEvent("ragtune.retriever.collection.indexed", CollectionIndexedSchema, {
      meta: event.meta,
      collection: "c1",
    });
    assert.equal((await handle.jsm.streams.info(EVENTS_STREAM)).state.messages, before);
    await handle.close();
  });

  it("fails fast with a clear error when NATS is unreachable at start", async () => {
    const started = Date.now();
    await assert.rejects(
      connectNats({ url: "nats://127.0.0.1:1", name: "test", connectTimeoutMs: 1000 }),
      (e: Error) => {
        assert.ok(e instanceof NatsUnavailableError);
        assert.match(e.message, /cannot reach NATS at nats:\/\/127\.0\.0\.1:1/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 10_000);
  });

  it("reports the connection down while the server is gone and up again after it returns", async () => {
    const own = await startNatsServer();
    const port = Number(new URL(own.url.replace("nats:", "http:")).port);
    const handle = await connectNats({ url: own.url, name: "test" });
    await handle.ping();
    await own.stop();
    await waitFor(
      async () =>
        !(await handle.ping().then(
          () => true,
          () => false,
        )),
    );
    const again = await startNatsServer({ port });
    await waitFor(
      () =>
        handle.ping().then(
          () => true,
          () => false,
        ),
      15_000,
    );
    await handle.close();
    await again.stop();
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
