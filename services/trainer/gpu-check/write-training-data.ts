/**
 * Writes the PEFT runner's training data for the GPU check with the agent's own example builder: demo-corpus
 * BioASQ questions with their snippets as contexts, fitted to max_seq_length with the exact counts of a
 * ChatML tokenizer (the test tokenizer of chat_template_testing.py over the runner's --count-tokens protocol,
 * which counts UTF-8 bytes, so every example also fits the BPE tokenizer the GPU check builds).
 *
 *   node --conditions=development --import tsx services/trainer/gpu-check/write-training-data.ts OUT.jsonl [N]
 */
import { generateBioAsq } from "@ragtune/demo-corpus";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderTrainingJsonl } from "../src/agent/executors/peft.js";
import { startTokenCounter } from "../src/agent/executors/token-counter.js";
import type { TrainingPair } from "../src/agent/training-pairs.js";

const [output, count = "512"] = process.argv.slice(2);
if (!output) throw new Error("usage: write-training-data.ts OUT.jsonl [N]");

const pairs: TrainingPair[] = generateBioAsq(7)
  .flatMap((batch) => batch.questions)
  .slice(0, Number(count))
  .map((q) => ({
    id: q.id,
    question: q.body,
    answer: q.ideal_answer[0] ?? "",
    answers: q.ideal_answer,
    contexts: q.snippets.map((s) => ({ text: s.text, sourceId: s.document })),
  }));

const testing = join(dirname(fileURLToPath(import.meta.url)), "../python/chat_template_testing.py");
const counter = startTokenCounter("python3", [testing, "count", "chatml"]);
try {
  const jsonl = await renderTrainingJsonl(pairs, { baseModel: "local/chatml-llama", maxSeqLength: 1024, counter });
  await writeFile(output, jsonl);
  console.log(`wrote ${pairs.length} examples to ${output}`);
} finally {
  await counter.close();
}
