/**
 * Metrics leave real service processes over OTLP alongside traces: the generator (in front of the
 * OpenAI-compatible test server) and the trainer export to an in-process OTLP/HTTP receiver, which gets the
 * per-RPC latency histogram, the GenAI token-usage and duration histograms with model and adapter, and the
 * trainer's queue-depth gauge; the LLM span carries the GenAI attributes.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { GeneratorService } from "@ragtune/contracts/generator";
import { createServiceClient } from "@ragtune/runtime";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "@ragtune/testing";
import { type RunningServices, startServices } from "./conformance/services.js";
import { type OtlpReceiver, startOtlpReceiver } from "./support/otlp-receiver.js";

let receiver: OtlpReceiver;
let fake: FakeOpenAiServer;
let services: RunningServices;

before(async () => {
  receiver = await startOtlpReceiver();
  fake = await startFakeOpenAiServer({ models: [{ id: "fake-base" }], adapters: { "tuned-a": "fake-base" } });
  services = await startServices(["generator", "trainer"], {
    env: {
      GENERATOR_OPENAI_BASE_URL: fake.baseUrl,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_METRIC_EXPORT_INTERVAL: "200",
      OTEL_BSP_SCHEDULE_DELAY: "200",
    },
  });
});

after(async () => {
  await services?.stop();
  await fake?.close();
  await receiver?.close();
});

/** Waits (bounded) until the receiver holds a point that matches. */
async function waitForPoint(match: (p: OtlpReceiver["metrics"][number]) => boolean, what: string) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const found = receiver.metrics.find(match);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const names = [...new Set(receiver.metrics.map((m) => `${m.service}:${m.name}`))].join(", ");
  assert.fail(`no ${what} arrived; metrics seen: ${names || "none"}\n${services.logs.slice(-10).join("\n")}`);
}

test("the generator exports RPC latency and GenAI token metrics, the trainer its queue depth", async () => {
  const generator = createServiceClient(GeneratorService, services.url("generator"));
  const calls = 3;
  for (let i = 0; i < calls; i++) {
    await generator.generate({
      question: `What is item ${i}?`,
      contexts: [{ text: `Item ${i} is a test.`, sourceId: `doc-${i}` }],
      model: { baseModel: "fake-base", backend: "openai", adapter: i === 0 ? "tuned-a" : "" },
      sampling: { temperature: 0, maxTokens: 32 },
    });
  }

  const rpc = await waitForPoint(
    (p) =>
      p.service === "ragtune-generator" &&
      p.name === "rpc.server.call.duration" &&
      p.attributes["rpc.method"] === "Generate" &&
      (p.count ?? 0) >= calls,
    "rpc.server.call.duration for Generate",
  );
  assert.equal(rpc.unit, "s");
  assert.equal(rpc.attributes["rpc.service"], "ragtune.generator.v1.GeneratorService");
  assert.equal(rpc.attributes["rpc.grpc.status_code"], 0);
  assert.ok((rpc.sum ?? 0) > 0, "the calls took time");

  const input = await waitForPoint(
    (p) =>
      p.service === "ragtune-generator" &&
      p.name === "gen_ai.client.token.usage" &&
      p.attributes["gen_ai.token.type"] === "input" &&
      p.attributes["ragtune.adapter"] === "tuned-a",
    "input token usage of the adapter's call",
  );
  assert.equal(input.attributes["gen_ai.request.model"], "fake-base");
  assert.equal(input.count, 1);
  assert.ok((input.sum ?? 0) > 0, "the prompt had tokens");
  const baseOutput = await waitForPoint(
    (p) =>
      p.name === "gen_ai.client.token.usage" &&
      p.attributes["gen_ai.token.type"] === "output" &&
      p.attributes["ragtune.adapter"] === "",
    "output token usage of the base model's calls",
  );
  assert.equal(baseOutput.count, calls - 1);
  await waitForPoint(
    (p) => p.name === "gen_ai.client.operation.duration" && p.service === "ragtune-generator",
    "gen_ai.client.operation.duration",
  );

  const queued = await waitForPoint(
    (p) =>
      p.service === "ragtune-trainer" &&
      p.name === "ragtune.trainer.queue.depth" &&
      p.attributes["ragtune.job.state"] === "queued",
    "the trainer's queue depth",
  );
  assert.equal(queued.value, 0, "no job was submitted");

  // The LLM span of the same call, with the GenAI semantic-convention attributes.
  const deadline = Date.now() + 10_000;
  let span = receiver.spans.find((s) => s.service === "ragtune-generator" && s.attributes["gen_ai.usage.input_tokens"]);
  while (!span && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    span = receiver.spans.find((s) => s.service === "ragtune-generator" && s.attributes["gen_ai.usage.input_tokens"]);
  }
  assert.ok(span, "the generator's LLM span was exported");
  assert.equal(span.attributes["gen_ai.system"], "openai");
  assert.equal(span.attributes["gen_ai.request.model"], "fake-base");
  assert.ok(Number(span.attributes["gen_ai.usage.output_tokens"]) > 0);
});
