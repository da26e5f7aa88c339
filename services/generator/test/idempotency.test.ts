/**
 * Requests with an idempotency key, through the generator's build() on a real socket with real NATS KV and an
 * OpenAI-compatible test server counting what it is asked: a retry, even to a generator started again, is
 * answered from what was kept, and the model is asked once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GeneratorService } from "@ragtune/contracts/generator";
import { Code, type ConnectError, createServiceClient, type NatsHandle } from "@ragtune/runtime";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "@ragtune/testing";
import { type ServedGenerator, serveGenerator, startNatsForTest } from "./serve-generator.js";

describe("generator: answers kept under an idempotency key", () => {
  let stopNats: (() => Promise<void>) | undefined;
  let handle: NatsHandle;
  let fake: FakeOpenAiServer;
  let served: ServedGenerator;

  const serve = () =>
    serveGenerator({ GENERATOR_OPENAI_BASE_URL: fake.baseUrl, GENERATOR_DEFAULT_BACKEND: "openai" }, handle);
  const client = () => createServiceClient(GeneratorService, served.url);
  const asked = (question: string) =>
    fake.requests.filter((r) => r.path.endsWith("/chat/completions") && JSON.stringify(r.body).includes(question))
      .length;
  const request = (question: string, idempotencyKey: string) => ({
    question,
    contexts: [{ text: `Context for ${question}`, sourceId: "c1" }],
    model: { baseModel: "base-7b" },
    sampling: { temperature: 0.8, maxTokens: 32 },
    idempotencyKey,
  });

  before(async () => {
    ({ handle, stop: stopNats } = await startNatsForTest("generator-idempotency-test"));
    fake = await startFakeOpenAiServer({ models: [{ id: "base-7b", maxModelLen: 4096 }] });
    served = await serve();
  });
  after(async () => {
    await served?.close();
    await stopNats?.();
    await fake?.close();
  });

  it("answers a retry from what it kept, after the generator was started again, without asking the model", async () => {
    const first = await client().generate(request("Where is the Orrin Canal?", "exp-1/cell-a/q1"));
    assert.equal(first.replayed, false);
    await served.close();
    served = await serve();
    const again = await client().generate(request("Where is the Orrin Canal?", "exp-1/cell-a/q1"));
    assert.equal(asked("Where is the Orrin Canal?"), 1);
    assert.equal(again.replayed, true);
    assert.deepEqual({ ...again, replayed: false }, first);
  });

  it("gives a kept answer on GenerateStream as its one result", async () => {
    const first = await client().generate(request("How long is the canal?", "exp-1/cell-a/q2"));
    const events = [];
    for await (const event of client().generateStream({
      request: request("How long is the canal?", "exp-1/cell-a/q2"),
    })) {
      events.push(event.event);
    }
    assert.equal(asked("How long is the canal?"), 1);
    assert.deepEqual(
      events.map((e) => e.case),
      ["result"],
    );
    assert.equal(events[0].case === "result" && events[0].value.answer, first.answer);
  });

  it("keeps what GenerateStream answered for a retry on Generate", async () => {
    let streamed = "";
    for await (const event of client().generateStream({ request: request("Who built it?", "exp-1/cell-a/q3") })) {
      if (event.event.case === "result") streamed = event.event.value.answer;
    }
    const again = await client().generate(request("Who built it?", "exp-1/cell-a/q3"));
    assert.equal(asked("Who built it?"), 1);
    assert.equal(again.answer, streamed);
    assert.equal(again.replayed, true);
  });

  it("asks the model every time for requests without a key", async () => {
    await client().generate(request("When was it opened?", ""));
    await client().generate(request("When was it opened?", ""));
    assert.equal(asked("When was it opened?"), 2);
  });

  it("refuses a key kept for a different request, naming the field", async () => {
    await client().generate(request("What does it carry?", "exp-1/cell-a/q5"));
    await assert.rejects(
      client().generate(request("What else does it carry?", "exp-1/cell-a/q5")),
      (error: ConnectError) =>
        error.code === Code.InvalidArgument && /^idempotency_key: .*different request/.test(error.rawMessage),
    );
    await assert.rejects(
      (async () => {
        for await (const _ of client().generateStream({ request: request("What else?", "exp-1/cell-a/q5") })) {
        }
      })(),
      (error: ConnectError) =>
        error.code === Code.InvalidArgument && error.rawMessage.startsWith("request.idempotency_key:"),
    );
    assert.equal(asked("What else"), 0);
  });

  it("refuses keys over 256 characters or with control characters", async () => {
    for (const key of ["k".repeat(257), "exp\ncell"]) {
      await assert.rejects(
        client().generate(request("Is it navigable?", key)),
        (error: ConnectError) => error.code === Code.InvalidArgument && error.rawMessage.startsWith("idempotency_key:"),
      );
    }
    assert.equal(asked("Is it navigable?"), 0);
  });
});
