/** The spans a judge call leaves: one per answer and criterion, one GenAI client span per LLM request inside it. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { RepeatStrategy, ScoringMode } from "@ragtune/contracts/judge";
import { initTelemetry, type Telemetry } from "@ragtune/runtime";
import { type InProcessJudgeHarness, startJudgeHarness } from "./support/judge-harness.js";

describe("judge tracing", () => {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  let telemetry: Telemetry;
  let h: InProcessJudgeHarness;
  before(async () => {
    telemetry = initTelemetry({
      serviceName: "judge-test",
      spanProcessors: [processor],
      env: {},
    });
    h = await startJudgeHarness();
  });
  after(async () => {
    await h.close();
    await telemetry.shutdown();
  });

  it("records GenAI semantic-convention attributes on every judge request, under its criterion span", async () => {
    await h.rpc.score({
      item: { question: "Capital of France?", answer: "Paris", referenceAnswer: "Paris" },
      criteria: ["accuracy"],
      judge: { mode: ScoringMode.SINGLE, repeats: 4, repeatStrategy: RepeatStrategy.SHARED_REQUEST },
    });
    // Export can wait for the SDK's async resource detection; flush so every ended span is there.
    await processor.forceFlush();
    const spans = exporter.getFinishedSpans();
    const criterion = spans.find((s) => s.name === "ragtune.judge.score_criterion");
    assert.ok(criterion, spans.map((s) => s.name).join(", "));
    assert.equal(criterion.attributes["ragtune.judge.criterion"], "accuracy");
    assert.equal(criterion.attributes["ragtune.judge.requests"], 1);
    const chats = spans.filter((s) => s.name === "chat judge-model");
    assert.equal(chats.length, 2, "one steps request, one shared form request");
    const form = chats.find((s) => s.attributes["gen_ai.request.choice.count"] === 4);
    assert.ok(form, JSON.stringify(chats.map((s) => s.attributes)));
    assert.equal(form.parentSpanContext?.spanId, criterion.spanContext().spanId);
    assert.equal(form.kind, SpanKind.CLIENT);
    assert.equal(form.attributes["gen_ai.operation.name"], "chat");
    assert.equal(form.attributes["gen_ai.provider.name"], "openai");
    assert.equal(form.attributes["gen_ai.request.model"], "judge-model");
    assert.equal(form.attributes["gen_ai.response.model"], "judge-model");
    assert.ok(Number(form.attributes["gen_ai.usage.input_tokens"]) > 0);
    assert.ok(Number(form.attributes["gen_ai.usage.output_tokens"]) > 0);
  });
});
