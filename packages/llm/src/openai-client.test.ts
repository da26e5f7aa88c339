import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "@ragtune/testing";
import { chatChoiceLogprobs, completionChoiceLogprobs } from "./logprobs.js";
import type { LlmError } from "./errors.js";
import { createOpenAiClient } from "./openai-client.js";

const API_KEY = "sk-test-secret-123";

describe("OpenAI-compatible client against the local fake server", () => {
  let server: FakeOpenAiServer;
  before(async () => {
    server = await startFakeOpenAiServer({ apiKey: API_KEY });
  });
  after(() => server.close());

  const client = () =>
    createOpenAiClient({ baseUrl: server.baseUrl, apiKey: API_KEY, backoff: { baseMs: 5, maxMs: 20 } });

  it("answers chat completions with n choices, usage and top logprobs", async () => {
    const response = await client().chatCompletion({
      model: "fake-base",
      messages: [
        { role: "system", content: "Answer from the context." },
        { role: "user", content: "What colour is the sky on a clear day?" },
      ],
      n: 3,
      max_tokens: 8,
      logprobs: true,
      top_logprobs: 5,
    });
    assert.equal(response.choices.length, 3);
    assert.ok(response.usage && response.usage.prompt_tokens > 0);
    assert.equal(response.usage.completion_tokens, 24);
    const logprobs = chatChoiceLogprobs(response.choices[0]);
    assert.equal(logprobs.length, 8);
    assert.equal(logprobs[0].top.length, 5);
    assert.equal(logprobs[0].top[0].token, logprobs[0].token);
    assert.equal(response.choices[0].finish_reason, "length");
    assert.notEqual(response.choices[0].message.content, response.choices[1].message.content);
    assert.equal(server.requests.at(-1)?.authorization, `Bearer ${API_KEY}`);
  });

  it("answers plain completions with legacy logprobs", async () => {
    const response = await client().completion({
      model: "fake-base",
      prompt: "Question: why? Answer:",
      max_tokens: 4,
      logprobs: 2,
    });
    const logprobs = completionChoiceLogprobs(response.choices[0]);
    assert.equal(logprobs.length, 4);
    assert.equal(logprobs[0].top.length, 2);
    assert.ok(logprobs[0].top[0].logprob >= logprobs[0].top[1].logprob);
  });

  it("streams chat and completion deltas that add up to the non-streamed answer", async () => {
    const request = {
      model: "fake-base",
      messages: [{ role: "user" as const, content: "Tell me about rivers and lakes" }],
    };
    const whole = (await client().chatCompletion(request)).choices[0].message.content;
    let streamed = "";
    let usage: unknown;
    for await (const chunk of client().streamChatCompletion(request)) {
      streamed += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(streamed, whole);
    assert.ok(usage);
    let text = "";
    for await (const chunk of client().streamCompletion({ model: "fake-base", prompt: "one two three" })) {
      text += chunk.choices[0]?.text ?? "";
    }
    assert.ok(text.startsWith("[fake-base]"));
  });

  it("retries 429 and 5xx with backoff, then succeeds", async () => {
    server.failNext(2, 503, { pathSuffix: "/completions" });
    const retries: number[] = [];
    const c = createOpenAiClient({
      baseUrl: server.baseUrl,
      apiKey: API_KEY,
      backoff: { baseMs: 5, maxMs: 20 },
      onRetry: (info) => retries.push(info.error.status ?? 0),
    });
    const response = await c.completion({ model: "fake-base", prompt: "hello there" });
    assert.ok(response.choices[0].text.length > 0);
    assert.deepEqual(retries, [503, 503]);
    server.failNext(1, 429, { pathSuffix: "/completions", retryAfterSeconds: 0 });
    await c.completion({ model: "fake-base", prompt: "hello there" });
  });

  it("does not retry other 4xx and gives up after maxRetries", async () => {
    const c = createOpenAiClient({
      baseUrl: server.baseUrl,
      apiKey: API_KEY,
      maxRetries: 2,
      backoff: { baseMs: 1, maxMs: 2 },
    });
    const before404 = server.requests.length;
    await assert.rejects(c.completion({ model: "no-such-model", prompt: "x" }), (error: LlmError) => {
      assert.equal(error.status, 404);
      assert.equal(error.attempts, 1);
      return true;
    });
    assert.equal(server.requests.length - before404, 1);
    server.failNext(10, 500, { pathSuffix: "/completions" });
    await assert.rejects(c.completion({ model: "fake-base", prompt: "x" }), (error: LlmError) => {
      assert.equal(error.status, 500);
      assert.equal(error.attempts, 3);
      return true;
    });
    await assert.rejects(
      c.completion({ model: "fake-base", prompt: "x" }, { maxRetries: 0 }),
      (error: LlmError) => error.attempts === 1,
    );
    server.clearFailures();
  });

  it("never puts the API key in an error message", async () => {
    const c = createOpenAiClient({ baseUrl: server.baseUrl, apiKey: "sk-wrong-key-456", maxRetries: 0 });
    await assert.rejects(c.listModels(), (error: LlmError) => {
      assert.equal(error.status, 401);
      assert.ok(!error.message.includes("sk-wrong-key-456"));
      return true;
    });
  });

  it("times out a slow server and classifies an unreachable one as network", async () => {
    server.setLatency(300);
    const slow = createOpenAiClient({
      baseUrl: server.baseUrl,
      apiKey: API_KEY,
      timeoutMs: 50,
      maxRetries: 1,
      backoff: { baseMs: 1, maxMs: 1 },
    });
    await assert.rejects(slow.listModels(), (error: LlmError) => error.kind === "timeout" && error.attempts === 2);
    server.setLatency(0);
    const down = createOpenAiClient({
      baseUrl: "http://127.0.0.1:1/v1",
      maxRetries: 1,
      backoff: { baseMs: 1, maxMs: 1 },
    });
    await assert.rejects(down.listModels(), (error: LlmError) => error.kind === "network" && error.retryable);
  });

  it("keeps at most maxConcurrency requests in flight", async () => {
    server.setLatency(30);
    const c = createOpenAiClient({ baseUrl: server.baseUrl, apiKey: API_KEY, maxConcurrency: 3 });
    const start = server.maxInFlight;
    await Promise.all(Array.from({ length: 12 }, () => c.completion({ model: "fake-base", prompt: "a b c" })));
    server.setLatency(0);
    assert.ok(server.maxInFlight <= Math.max(3, start), `max in flight ${server.maxInFlight}`);
    assert.ok(c.limiter.active === 0);
  });

  it("loads a LoRA adapter at run time (vLLM API) and lists it with its parent", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ragtune-lora-"));
    try {
      await assert.rejects(
        client().loadLoraAdapter({ lora_name: "qa-lora", lora_path: join(dir, "qa-lora") }),
        (error: LlmError) => error.status === 404 && /No adapter found/.test(error.message),
      );
      await mkdir(join(dir, "qa-lora"));
      await writeFile(join(dir, "qa-lora", "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 8 }));
      await client().loadLoraAdapter({ lora_name: "qa-lora", lora_path: join(dir, "qa-lora") });
      const models = await client().listModels();
      const entry = models.data.find((m) => m.id === "qa-lora");
      assert.equal(entry?.parent, "fake-base");
      const base = await client().completion({ model: "fake-base", prompt: "same prompt here", temperature: 0 });
      const tuned = await client().completion({ model: "qa-lora", prompt: "same prompt here", temperature: 0 });
      assert.notEqual(base.choices[0].text, tuned.choices[0].text);
      await client().unloadLoraAdapter({ lora_name: "qa-lora" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
