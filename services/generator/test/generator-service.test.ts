/** The service class through connect's in-memory transport, with real backends (fake OpenAI server over HTTP). */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { GeneratorService, TruncationPolicy } from "@ragtune/contracts/generator";
import { initTelemetry, type Telemetry } from "@ragtune/runtime";
import type { AdapterEvents } from "@ragtune/llamacpp";
import { createDirectoryWeightsSource, createExtractiveBackend } from "../src/backends/extractive-backend.js";
import { createOpenAiBackend } from "../src/backends/openai-backend.js";
import { GeneratorServiceImpl } from "../src/generator-service.js";
import { createOpenAiClient } from "@ragtune/llm";
import { RAG_DEFAULT_TEMPLATE, templateHash } from "@ragtune/prompt";
import { DEFAULT_READER_WEIGHTS } from "@ragtune/reader";
import { type FakeOpenAiServer, isConnectError, startFakeOpenAiServer } from "@ragtune/testing";

const API_KEY = "sk-never-in-traces-789";
const contexts = [
  {
    text: "The Orrin Canal links the river Velan with the sea. It is 41 kilometres long and has twelve locks.",
    sourceId: "canal#0",
  },
  { text: "Barges carried grain along the canal until the 1960s.", sourceId: "canal#1" },
];

describe("GeneratorServiceImpl (in-memory transport)", () => {
  let fake: FakeOpenAiServer;
  let vllm: FakeOpenAiServer;
  let sham: FakeOpenAiServer;
  let dir: string;
  let telemetry: Telemetry;
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  const events: string[] = [];
  const recordEvents: AdapterEvents = {
    adapterLoaded: (m, s) => events.push(`loaded ${m.backend}/${m.adapter} ${s >= 0}`),
    adapterLoadFailed: (m) => events.push(`failed ${m.backend}/${m.adapter}`),
  };
  let rpc: ReturnType<typeof createClient<typeof GeneratorService>>;

  before(async () => {
    telemetry = initTelemetry({ serviceName: "generator-test", spanProcessors: [processor], env: {} });
    fake = await startFakeOpenAiServer({
      apiKey: API_KEY,
      models: [
        { id: "small-model", maxModelLen: 300 },
        { id: "big-model", maxModelLen: 8192 },
      ],
      adapters: { "served-lora": "big-model" },
    });
    vllm = await startFakeOpenAiServer({ models: [{ id: "base-7b", maxModelLen: 4096 }], loraLoading: "load" });
    sham = await startFakeOpenAiServer({ models: [{ id: "base-7b", maxModelLen: 4096 }], loraLoading: "ignore" });
    dir = await mkdtemp(join(tmpdir(), "ragtune-generator-"));
    await writeFile(join(dir, "tuned-reader.json"), JSON.stringify({ ...DEFAULT_READER_WEIGHTS, bias: -1 }));
    // The fake vLLM reads <lora_path>/adapter_config.json, as vLLM does.
    await mkdir(join(dir, "lora", "qa-200"), { recursive: true });
    await writeFile(join(dir, "lora", "qa-200", "adapter_config.json"), JSON.stringify({ peft_type: "LORA" }));
    const client = (baseUrl: string, apiKey?: string) =>
      createOpenAiClient({ baseUrl, apiKey, maxRetries: 2, backoff: { baseMs: 10, maxMs: 20 }, timeoutMs: 2000 });
    const impl = new GeneratorServiceImpl({
      defaultBackend: "extractive",
      backends: [
        createExtractiveBackend({ adapters: createDirectoryWeightsSource(dir), events: recordEvents }),
        createOpenAiBackend({ name: "openai", client: client(fake.baseUrl, API_KEY), events: recordEvents }),
        createOpenAiBackend({
          name: "vllm",
          client: client(vllm.baseUrl),
          api: "completion",
          loraPathTemplate: join(dir, "lora", "{adapter}"),
          events: recordEvents,
        }),
        createOpenAiBackend({
          name: "sham",
          client: client(sham.baseUrl),
          loraPathTemplate: "/adapters/{adapter}",
          events: recordEvents,
        }),
        createOpenAiBackend({ name: "down", client: client("http://127.0.0.1:9/v1"), events: recordEvents }),
      ],
    });
    rpc = createClient(
      GeneratorService,
      createRouterTransport((router) => router.service(GeneratorService, impl)),
    );
  });
  after(async () => {
    await Promise.all([fake.close(), vllm.close(), sham.close()]);
    await rm(dir, { recursive: true, force: true });
    await telemetry.shutdown();
  });

  it("answers with the extractive reader by default and records everything about the answer", async () => {
    const response = await rpc.generate({ question: "How long is the Orrin Canal?", contexts });
    assert.equal(response.answer, "It is 41 kilometres long and has twelve locks.");
    assert.deepEqual(
      [response.model?.backend, response.model?.baseModel, response.model?.adapter],
      ["extractive", "extractive-reader", ""],
    );
    assert.equal(response.backendKind, "extractive");
    assert.equal(response.templateId, "rag-default@1");
    assert.equal(response.templateHash, templateHash(RAG_DEFAULT_TEMPLATE));
    assert.equal(response.finishReason, "stop");
    assert.ok(response.usage && response.usage.inputTokens > 0 && response.usage.outputTokens > 0);
    assert.ok(response.latencySeconds >= 0);
    assert.equal(response.contextsUsed, 2);
    assert.equal(response.truncated, false);
  });

  it("uses a fine-tuned reader adapter and announces its load once", async () => {
    const response = await rpc.generate({
      question: "How long is the Orrin Canal?",
      contexts,
      model: { adapter: "tuned-reader" },
    });
    assert.equal(response.model?.adapter, "tuned-reader");
    await rpc.generate({ question: "How long is the Orrin Canal?", contexts, model: { adapter: "tuned-reader" } });
    assert.equal(events.filter((e) => e === "loaded extractive/tuned-reader true").length, 1);
  });

  it("answers through an OpenAI-compatible backend with the server's token usage", async () => {
    const response = await rpc.generate({
      question: "How long is the Orrin Canal?",
      contexts,
      model: { backend: "openai", baseModel: "big-model" },
      sampling: { maxTokens: 6 },
    });
    assert.match(response.answer, /^\[big-model\]/);
    assert.equal(response.usage?.outputTokens, 6);
    assert.equal(response.finishReason, "length");
    assert.equal(response.backendKind, "openai");
    const body = fake.requests.at(-1)?.body as { messages: { role: string; content: string }[] };
    assert.deepEqual(
      body.messages.map((m) => m.role),
      ["system", "user"],
    );
    assert.match(body.messages[1].content, /\[1\] \(source: canal#0\)/);
  });

  it("selects a served adapter by model name", async () => {
    const response = await rpc.generate({
      question: "q?",
      contexts,
      model: { backend: "openai", baseModel: "big-model", adapter: "served-lora" },
    });
    assert.equal(response.model?.adapter, "served-lora");
    assert.equal((fake.requests.at(-1)!.body as { model: string }).model, "served-lora");
  });

  it("loads a vLLM adapter at run time, verifies it by canary, and emits adapter.loaded", async () => {
    const response = await rpc.generate({
      question: "q?",
      contexts,
      model: { backend: "vllm", baseModel: "base-7b", adapter: "qa-200" },
    });
    assert.equal(response.model?.adapter, "qa-200");
    assert.ok(
      vllm.requests.some(
        (r) =>
          r.path === "/v1/load_lora_adapter" &&
          (r.body as { lora_path: string }).lora_path === join(dir, "lora", "qa-200"),
      ),
    );
    assert.ok(events.includes("loaded vllm/qa-200 true"));
  });

  it("NOT_FOUND when the server says 200 but the adapter changes nothing (canary equals base)", async () => {
    await assert.rejects(
      rpc.generate({ question: "q?", contexts, model: { backend: "sham", baseModel: "base-7b", adapter: "ghost" } }),
      isConnectError(Code.NotFound, /canary output equals the base model's/),
    );
    assert.ok(events.includes("failed sham/ghost"));
    assert.ok(sham.requests.some((r) => r.path === "/v1/unload_lora_adapter"));
  });

  it("NOT_FOUND for unknown backend, model, adapter and template", async () => {
    await assert.rejects(
      rpc.generate({ question: "q?", model: { backend: "nope" } }),
      isConnectError(Code.NotFound, /backend/),
    );
    await assert.rejects(
      rpc.generate({ question: "q?", model: { backend: "openai", baseModel: "gpt-nope" } }),
      isConnectError(Code.NotFound, /gpt-nope/),
    );
    await assert.rejects(
      rpc.generate({ question: "q?", model: { backend: "openai", baseModel: "big-model", adapter: "unknown-lora" } }),
      isConnectError(Code.NotFound, /unknown-lora/),
    );
    await assert.rejects(
      rpc.generate({ question: "q?", model: { adapter: "no-such-reader" } }),
      isConnectError(Code.NotFound, /no-such-reader/),
    );
    await assert.rejects(
      rpc.generate({ question: "q?", templateId: "nope@1" }),
      isConnectError(Code.NotFound, /template/),
    );
  });

  it("INVALID_ARGUMENT naming the field for bad input", async () => {
    await assert.rejects(
      rpc.generate({ question: "  " }),
      isConnectError(Code.InvalidArgument, /^\[invalid_argument\] question: /),
    );
    await assert.rejects(
      rpc.generate({ question: "q?", sampling: { temperature: 3 } }),
      isConnectError(Code.InvalidArgument, /sampling\.temperature/),
    );
    await assert.rejects(
      rpc.generate({ question: "q?", contexts: [{ text: "" }] }),
      isConnectError(Code.InvalidArgument, /contexts\[0\]\.text/),
    );
    await assert.rejects(
      rpc.generate({ question: "q?", truncation: 99 as TruncationPolicy }),
      isConnectError(Code.InvalidArgument, /truncation/),
    );
    await assert.rejects(
      rpc.generate({ question: "q?", jsonSchema: "{nope" }),
      isConnectError(Code.InvalidArgument, /json_schema/),
    );
    await assert.rejects(
      rpc.generate({ question: "q?", jsonSchema: '{"type":"object"}' }),
      isConnectError(Code.InvalidArgument, /json_schema: the extractive reader/),
    );
    await assert.rejects(
      rpc.generateStream({})[Symbol.asyncIterator]().next(),
      isConnectError(Code.InvalidArgument, /^\[invalid_argument\] request: /),
    );
  });

  it("truncates contexts that overflow the window and records it; INVALID_ARGUMENT when truncation is disabled", async () => {
    const long = Array.from({ length: 5 }, (_, i) => ({
      text: `Passage ${i} ${"word ".repeat(40)}`,
      sourceId: `p${i}`,
    }));
    const request = {
      question: "What?",
      contexts: long,
      model: { backend: "openai", baseModel: "small-model" },
      sampling: { maxTokens: 8 },
    };
    const response = await rpc.generate(request);
    assert.equal(response.truncated, true);
    assert.ok(response.contextsUsed < 5);
    assert.match(response.truncationNote, /dropped context/);
    const sent = (fake.requests.at(-1)!.body as { messages: { content: string }[] }).messages[1].content;
    assert.ok(!sent.includes("Passage 4"));
    await assert.rejects(
      rpc.generate({ ...request, truncation: TruncationPolicy.DISABLED }),
      isConnectError(Code.InvalidArgument, /^\[invalid_argument\] contexts: .*truncation is disabled/),
    );
    await assert.rejects(
      rpc.generate({ ...request, question: "why ".repeat(400) }),
      isConnectError(Code.InvalidArgument, /question: too long/),
    );
  });

  it("UNAVAILABLE after bounded retries when the backend is down, without hanging", async () => {
    const started = performance.now();
    await assert.rejects(
      rpc.generate({ question: "q?", model: { backend: "down" } }),
      isConnectError(Code.Unavailable, /after 3 attempt/),
    );
    assert.ok(performance.now() - started < 5000);
    fake.failNext(5, 503, { pathSuffix: "/chat/completions" });
    await assert.rejects(
      rpc.generate({ question: "q?", model: { backend: "openai", baseModel: "big-model" } }),
      isConnectError(Code.Unavailable, /HTTP 503/),
    );
    fake.clearFailures();
  });

  it("streams deltas, then the full result", async () => {
    const deltas: string[] = [];
    let result: { answer: string; finishReason: string } | undefined;
    for await (const message of rpc.generateStream({
      request: { question: "How long?", contexts, model: { backend: "openai", baseModel: "big-model" } },
    })) {
      if (message.event.case === "delta") deltas.push(message.event.value);
      else if (message.event.case === "result") result = message.event.value;
    }
    assert.ok(deltas.length > 1);
    assert.equal(deltas.join(""), result?.answer);
    assert.equal(result?.finishReason, "stop");
  });

  it("lists models and adapters of every backend that answers", async () => {
    const { models } = await rpc.listModels({});
    const find = (backend: string, base: string) => models.find((m) => m.backend === backend && m.baseModel === base);
    assert.equal(find("extractive", "extractive-reader")?.kind, "extractive");
    assert.deepEqual(find("extractive", "extractive-reader")?.adapters, ["tuned-reader"]);
    assert.deepEqual(find("openai", "big-model")?.adapters, ["served-lora"]);
    assert.equal(find("openai", "small-model")?.contextWindow, 300);
    assert.equal(find("vllm", "base-7b")?.adapters.includes("qa-200"), true);
    assert.ok(!models.some((m) => m.backend === "down"), "a backend that is down is left out");
  });

  it("puts GenAI semantic-convention attributes on spans and never the API key", async () => {
    exporter.reset();
    await rpc.generate({
      question: "How long?",
      contexts,
      model: { backend: "openai", baseModel: "big-model" },
      sampling: { maxTokens: 5 },
    });
    await processor.forceFlush();
    const span = exporter.getFinishedSpans().find((s) => s.name === "chat big-model");
    assert.ok(
      span,
      exporter
        .getFinishedSpans()
        .map((s) => s.name)
        .join(", "),
    );
    assert.equal(span.attributes["gen_ai.request.model"], "big-model");
    assert.equal(span.attributes["gen_ai.request.max_tokens"], 5);
    assert.equal(span.attributes["gen_ai.usage.output_tokens"], 5);
    assert.ok(Number(span.attributes["gen_ai.usage.input_tokens"]) > 0);
    assert.deepEqual(span.attributes["gen_ai.response.finish_reasons"], ["length"]);
    assert.equal(span.attributes["gen_ai.provider.name"], "openai");
    assert.match(String(span.attributes["ragtune.generator.template_hash"]), /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(exporter.getFinishedSpans().map((s) => s.attributes)).includes(API_KEY));
  });
});
