import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, type ConnectError } from "@ragtune/runtime";
import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";
import { RAG_COMPACT_TEMPLATE, renderRagPrompt } from "@ragtune/prompt";
import { type TinyModelDir, writeTinyModelDir } from "@ragtune/testing";
import type { GenerationInput, ResolvedModel } from "./generation-backend.js";
import { createLlamaCppBackend } from "./llamacpp-backend.js";

const contexts = [{ text: "The answer is yes.", sourceId: "a" }];
const prompt = renderRagPrompt({ question: "Is the answer yes?", contexts, template: RAG_COMPACT_TEMPLATE });
const sampling = { temperature: 0, topP: 0, maxTokens: 12, seed: 0, stop: [] };

describe("llama.cpp backend on a tiny random-weight GGUF model", () => {
  let tiny: TinyModelDir;
  let llama: Llama;
  const events: string[] = [];
  let backend: ReturnType<typeof createLlamaCppBackend>;
  const input = (model: ResolvedModel, extra: Partial<GenerationInput> = {}): GenerationInput => ({
    model,
    question: "Is the answer yes?",
    contexts,
    prompt,
    sampling,
    ...extra,
  });

  before(async () => {
    tiny = await writeTinyModelDir({ prefix: "ragtune-llamacpp-", adapters: ["tiny-lora"] });
    await writeFile(join(tiny.dir, "broken.gguf"), "this is not a GGUF file");
    llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
    backend = createLlamaCppBackend({
      models: [{ name: "tiny", source: tiny.model }],
      adapterDir: tiny.dir,
      contextSize: 256,
      maxContexts: 2,
      // The tiny model is too small to gain from threads; on a shared 2-core machine they only contend.
      threads: 1,
      llama,
      events: {
        adapterLoaded: (m, s) => events.push(`loaded ${m.adapter} ${s >= 0}`),
        adapterLoadFailed: (m, e) => events.push(`failed ${m.adapter} ${e.length > 0}`),
      },
    });
  });
  after(async () => {
    await backend.close();
    await llama.dispose();
    await tiny?.remove();
  });

  it("loads the model, generates, and counts tokens with the model's tokenizer", async () => {
    const model = await backend.resolve("tiny", "");
    assert.equal(model.contextWindow, 256);
    const output = await backend.generate(input(model));
    assert.ok(output.text.length > 0);
    assert.equal(output.finishReason, "length");
    assert.equal(output.outputTokens, 12);
    assert.equal(output.inputTokens, await backend.countTokens(model, prompt));
  });

  it("applies a LoRA adapter: greedy output differs from the base model's", async () => {
    const base = await backend.generate(input(await backend.resolve("tiny", "")));
    const tuned = await backend.generate(input(await backend.resolve("tiny", "tiny-lora")));
    assert.notEqual(tuned.text, base.text);
    assert.ok(events.includes("loaded tiny-lora true"));
    const again = await backend.generate(input(await backend.resolve("tiny", "")));
    assert.equal(again.text, base.text, "greedy decoding is deterministic");
  });

  it("constrains output to a JSON schema with a grammar", async () => {
    const schema = { type: "object", properties: { answer: { enum: ["yes", "no"] } }, required: ["answer"] };
    const output = await backend.generate(
      input(await backend.resolve("", ""), { jsonSchema: schema, sampling: { ...sampling, maxTokens: 64 } }),
    );
    const parsed = JSON.parse(output.text);
    assert.ok(["yes", "no"].includes(parsed.answer), output.text);
  });

  it("streams deltas that add up to the answer", async () => {
    const model = await backend.resolve("tiny", "");
    let text = "";
    let done: { text: string } | undefined;
    for await (const event of backend.generateStream(input(model))) {
      if ("delta" in event) text += event.delta;
      else done = event.done;
    }
    assert.ok(done);
    assert.equal(text, done.text);
    assert.equal(done.text, (await backend.generate(input(model))).text);
  });

  it("keeps at most maxContexts contexts under concurrent load", async () => {
    const base = await backend.resolve("tiny", "");
    const tuned = await backend.resolve("tiny", "tiny-lora");
    const outputs = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        backend.generate(input(i % 2 ? tuned : base, { sampling: { ...sampling, maxTokens: 4 } })),
      ),
    );
    assert.equal(outputs.length, 6);
    assert.ok(backend.poolStats().total <= 2);
  });

  it("NOT_FOUND for an unknown model or adapter; a broken adapter file is reported as failed", async () => {
    await assert.rejects(backend.resolve("nope", ""), (e: ConnectError) => e.code === Code.NotFound);
    await assert.rejects(backend.resolve("tiny", "missing"), (e: ConnectError) => e.code === Code.NotFound);
    await assert.rejects(
      backend.resolve("tiny", "broken"),
      (e: ConnectError) => e.code === Code.NotFound && /could not apply/.test(e.message),
    );
    assert.ok(events.includes("failed broken true"));
  });

  it("keeps the download path for model URIs, failing UNAVAILABLE without a network", async () => {
    const remote = createLlamaCppBackend({
      models: [{ name: "remote", source: "https://127.0.0.1:9/models/model.Q4_K_M.gguf" }],
      modelsDir: tiny.dir,
      downloadStallMs: 1000,
      llama,
    });
    await assert.rejects(
      remote.resolve("remote", ""),
      (e: ConnectError) => e.code === Code.Unavailable && /cannot download/.test(e.message),
    );
    await remote.close();
  });

  it("unloads a model, freeing its contexts, and loads it again on next use", async () => {
    await backend.unload("tiny");
    assert.equal(backend.poolStats().total, 0);
    const output = await backend.generate(input(await backend.resolve("tiny", "")));
    assert.ok(output.text.length > 0);
  });
});
