/**
 * llama.cpp in-process on tiny random-weight GGUF models the project writes: tokens/s of the generator's
 * backend (one context, one thread and two), and process memory before loading, loaded, and after unloading.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { createLlamaCppBackend } from "@ragtune/llamacpp";
import { RAG_COMPACT_TEMPLATE, renderRagPrompt } from "@ragtune/prompt";
import { writeTinyLlamaGguf } from "@ragtune/testing";

const dir = await mkdtemp(join(tmpdir(), "ragtune-llamacpp-bench-"));
const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const rss = () => {
  globalThis.gc?.();
  return process.memoryUsage().rss;
};
const prompt = renderRagPrompt({
  question: "Is the answer yes?",
  contexts: [{ text: "The answer is yes." }],
  template: RAG_COMPACT_TEMPLATE,
});

async function tokensPerSecond(modelPath: string, threads: number, maxTokens: number, runs: number) {
  const backend = createLlamaCppBackend({
    models: [{ name: "m", source: modelPath }],
    contextSize: 512,
    threads,
    llama,
  });
  const model = await backend.resolve("m", "");
  const input = {
    model,
    question: "",
    contexts: [],
    prompt,
    sampling: { temperature: 0, topP: 0, maxTokens, seed: 0, stop: [] },
  };
  await backend.generate({ ...input, sampling: { ...input.sampling, maxTokens: 8 } });
  let tokens = 0;
  const started = performance.now();
  for (let i = 0; i < runs; i++) tokens += (await backend.generate(input)).outputTokens;
  const seconds = (performance.now() - started) / 1000;
  await backend.close();
  return tokens / seconds;
}

try {
  const tiny = join(dir, "tiny.gguf");
  const tinySize = await writeTinyLlamaGguf(tiny);
  // Memory: a larger random model so that load and release stand out from the process's own noise.
  const larger = join(dir, "larger.gguf");
  const written = spawnSync(
    process.execPath,
    ["--import", "tsx", new URL("./support/write-model.ts", import.meta.url).pathname, larger, "512", "6", "1536"],
    { encoding: "utf8" },
  );
  if (written.status !== 0) throw new Error(`writing the model failed: ${written.stderr}`);
  const largerSize = Number(written.stdout.trim());

  const before = rss();
  const backend = createLlamaCppBackend({
    models: [{ name: "larger", source: larger }],
    contextSize: 1024,
    maxContexts: 2,
    threads: 1,
    llama,
  });
  const model = await backend.resolve("larger", "");
  const sampling = { temperature: 0, topP: 0, maxTokens: 32, seed: 0, stop: [] };
  const output = await backend.generate({ model, question: "", contexts: [], prompt, sampling });
  const loaded = rss();
  await backend.unload("larger");
  const unloaded = rss();
  await backend.close();
  console.log(
    `memory (RSS), llama 6 layers x 512 wide, f32 file ${mib(largerSize)}, context 1024: before ${mib(before)}; ` +
      `loaded and ${output.outputTokens} tokens generated ${mib(loaded)} (+${mib(loaded - before)}); ` +
      `after unload ${mib(unloaded)} (released ${mib(loaded - unloaded)}, ${(((loaded - unloaded) / Math.max(1, loaded - before)) * 100).toFixed(0)}% of what loading took)`,
  );

  for (const threads of [1, 2]) {
    const rate = await tokensPerSecond(tiny, threads, 128, 5);
    console.log(
      `tiny llama (2 layers, 64 wide, f32, ${mib(tinySize)}), ${threads} thread(s): ${rate.toFixed(0)} tokens/s (5 x 128 greedy tokens)`,
    );
  }
} finally {
  await llama.dispose();
  await rm(dir, { recursive: true, force: true });
}
