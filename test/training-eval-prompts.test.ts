/**
 * A fine-tune must see the prompt the model is evaluated with. The split manifest is written by the gateway's
 * writer (@ragtune/datasets, with the retrieved chunks the experiment holds), the trainer renders its fine-tuning
 * examples from that file (training-pairs.ts, then the PEFT and hosted executors' JSONL), and the generator, over
 * gRPC, sends the evaluation request for the same question and chunks to an OpenAI-compatible server (a fake one
 * that records what it is sent). Both must be identical up to the answer: a field the two sides name differently
 * (the trainer once read `source_id` where the gateway wrote `sourceId`) shows up here as "(source: unknown)".
 *
 * Serving goes through /chat/completions, where the server applies the model's chat template; PEFT training once
 * trained on the plain completion prompt with BOS and no template. So the check goes down to token ids: the
 * runner's example building (peft_runner.py) and the serving engine's apply_chat_template, both on a real chat
 * template string rendered by jinja2 over a byte-level vocabulary (python/chat_template_testing.py), must give the
 * same ids up to the answer, for a model with a system role (ChatML) and one whose template rejects it (Mistral).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { GeneratorService } from "@ragtune/contracts/generator";
import { JobSpecSchema } from "@ragtune/contracts/trainer";
import {
  createManifest,
  type QaItem,
  type RetrievedChunk,
  sha256Hex,
  splitDataset,
  writeManifest,
} from "@ragtune/datasets";
import { chatMessagesForModel, renderRagPrompt } from "@ragtune/prompt";
import { createServiceClient } from "@ragtune/runtime";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "@ragtune/testing";
import { serveGenerator, startNatsForTest } from "../services/generator/test/serve-generator.js";
import { renderChatJsonl } from "../services/trainer/src/agent/executors/openai.js";
import { buildPeftExamples, PEFT_RUNNER_PATH, type PeftExample } from "../services/trainer/src/agent/executors/peft.js";
import { startTokenCounter, type TokenCounter } from "../services/trainer/src/agent/executors/token-counter.js";
import { loadTrainingPairs, type TrainingPair } from "../services/trainer/src/agent/training-pairs.js";

const facts = [
  ["Which river flows through Lumeria?", "the Sable", "The Sable river flows through Lumeria from the northern hills."],
  ["Who founded the Orrin Institute?", "Mara Voss", "The Orrin Institute was founded by Mara Voss in 1921."],
  ["How many moons does Kepra have?", "three", "Kepra has three moons, the largest being Vell."],
  ["When did the Quill Bridge open?", "1887", "The Quill Bridge opened to traffic in 1887."],
  ["Who wrote The Glass Orchard?", "Ilse Moraine", "The Glass Orchard is a novel written by Ilse Moraine."],
];

const items: QaItem[] = facts.map(([question, answer, passage], i) => ({
  id: `fact-${i}`,
  question,
  answer,
  answers: [answer],
  evidence: [passage],
  evidenceDocumentIds: [`atlas-${i}`],
  type: "factoid",
  metadata: {},
}));

/** What the retriever returned for each question, best first: chunk ids of the collection, as the gateway keeps them. */
const retrieved = new Map<string, RetrievedChunk[]>(
  items.map((item, i) => [
    item.id,
    [
      { text: item.evidence[0], sourceId: `atlas-${i}#chunk-0`, score: 3.25 },
      { text: "Lumeria's winters are mild and short.", sourceId: `almanac-${i}#chunk-7`, score: 1.5 },
      {
        text: "The regional almanac lists tides, harvest dates and the weather of every valley. ".repeat(6),
        sourceId: `almanac-${i}#chunk-9`,
        score: 0.5,
      },
    ],
  ]),
);

const CHATML_MODEL = "Qwen/Qwen2-7B-Instruct";
const MISTRAL_MODEL = "mistralai/Mistral-7B-Instruct-v0.2";
/** A small window, so that serving drops the lowest-ranked chunk. */
const SMALL_MODEL = "Qwen/Qwen2-0.5B-Instruct";
const SMALL_WINDOW = 330;
const TEMPLATE_OF: Record<string, string> = {
  [CHATML_MODEL]: "chatml",
  [MISTRAL_MODEL]: "mistral",
  [SMALL_MODEL]: "chatml",
};
/** A LoRA adapter the fake server serves on each base model: the tuned model is evaluated on the same request. */
const TUNED_OF: Record<string, string> = { [CHATML_MODEL]: "qwen-rag-lora", [MISTRAL_MODEL]: "mistral-rag-lora" };
const TEMPLATE_TOOL = join(PEFT_RUNNER_PATH, "..", "chat_template_testing.py");
const jinja = spawnSync("python3", ["-c", "import jinja2"]).status === 0;

/** The model's tokenizer and chat template, through the runner's token-count protocol. */
const countWith = (model: string): TokenCounter =>
  startTokenCounter("python3", [TEMPLATE_TOOL, "count", TEMPLATE_OF[model]]);

interface Tokenised {
  input_ids: number[];
  labels: number[];
  served_ids: number[];
  answer_ids: number[];
  eos_id: number;
}

/** peft_runner's training example for a data line, and the ids serving feeds the model for the request's messages. */
function tokenise(model: string, example: PeftExample, servedMessages: unknown, maxSeqLength: number): Tokenised {
  const result = spawnSync("python3", [TEMPLATE_TOOL, "compare", TEMPLATE_OF[model]], {
    input: JSON.stringify({ example, served_messages: servedMessages, max_seq_length: maxSeqLength }),
    encoding: "utf8",
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

function assertTrainsOnServedIds(t: Tokenised) {
  assert.ok(t.served_ids.length > 100);
  assert.deepEqual(t.input_ids.slice(0, t.served_ids.length), t.served_ids, "the prompt ids are the served ids");
  assert.deepEqual(t.input_ids.slice(t.served_ids.length), [...t.answer_ids, t.eos_id], "then the answer and EOS");
  assert.deepEqual(t.labels, [...t.served_ids.map(() => -100), ...t.answer_ids, t.eos_id], "loss on the answer only");
}

describe("fine-tuning examples and evaluation prompts from one split manifest", () => {
  let dir: string;
  let pairs: TrainingPair[];
  let nats: Awaited<ReturnType<typeof startNatsForTest>>;
  let fake: FakeOpenAiServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ragtune-prompts-"));
    const split = splitDataset(items, { dataset: "nq-open", seed: 11, poolSizes: [4], evalSize: 1 });
    const manifestPath = join(dir, "split.json");
    const bytes = await writeManifest(manifestPath, createManifest(split, { contexts: retrieved }));
    const spec = create(JobSpecSchema, {
      trainingData: {
        manifestUri: manifestPath,
        manifestSha256: sha256Hex(bytes),
        pool: "finetune-4",
      },
    });
    pairs = (await loadTrainingPairs(spec)).pairs;
    nats = await startNatsForTest("prompts-test");
    fake = await startFakeOpenAiServer({
      models: [
        { id: "fake-base" },
        { id: CHATML_MODEL },
        { id: MISTRAL_MODEL },
        { id: SMALL_MODEL, maxModelLen: SMALL_WINDOW },
      ],
      adapters: { [TUNED_OF[CHATML_MODEL]]: CHATML_MODEL, [TUNED_OF[MISTRAL_MODEL]]: MISTRAL_MODEL },
    });
  });

  after(async () => {
    await fake?.close();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Asks the generator (served over a socket with its OpenAI-compatible backend) and returns the request body. */
  async function evaluationRequest(
    api: "completion" | "chat",
    pair: TrainingPair,
    baseModel = "fake-base",
    adapter = "",
  ) {
    const served = await serveGenerator(
      { GENERATOR_OPENAI_BASE_URL: fake.baseUrl, GENERATOR_OPENAI_API: api, GENERATOR_DEFAULT_BACKEND: "openai" },
      nats.handle,
    );
    try {
      const client = createServiceClient(GeneratorService, served.url);
      const before = fake.requests.length;
      // What the gateway's cell runner sends for an evaluation item: its question and its retrieved chunks.
      await client.generate({
        question: pair.question,
        contexts: retrieved.get(pair.id),
        model: { baseModel, adapter, backend: "openai" },
        sampling: { temperature: 0, maxTokens: 64 },
      });
      const sent = fake.requests.slice(before).filter((r) => r.method === "POST");
      assert.equal(sent.length, 1, `one generation request, got ${sent.map((r) => r.path).join(", ")}`);
      return sent[0].body as { prompt?: string; messages?: { role: "system" | "user"; content: string }[] };
    } finally {
      await served.close();
    }
  }

  it("reads every retrieved chunk's source id from the manifest", () => {
    assert.equal(pairs.length, 4);
    for (const pair of pairs) {
      assert.deepEqual(
        pair.contexts.map((c) => c.sourceId),
        retrieved.get(pair.id)?.map((c) => c.sourceId),
      );
    }
  });

  for (const model of [CHATML_MODEL, MISTRAL_MODEL]) {
    it(`PEFT on ${model}: the training example is the served chat request's token ids, then the answer`, {
      skip: !jinja && "python3 with jinja2 is not here",
    }, async () => {
      const pair = pairs[0];
      const counter = countWith(model);
      let example: PeftExample;
      try {
        [example] = await buildPeftExamples([pair], { baseModel: model, maxSeqLength: 2048, counter });
      } finally {
        await counter.close();
      }
      const body = await evaluationRequest("chat", pair, model);
      assert.deepEqual(example.messages, body.messages, "the same chat messages");
      const tuned = await evaluationRequest("chat", pair, model, TUNED_OF[model]);
      assert.deepEqual(tuned.messages, body.messages, "base and tuned models are evaluated on the same messages");
      assert.equal(example.completion, pair.answer);
      assert.equal(example.truncation, undefined);
      for (const chunk of retrieved.get(pair.id) ?? [])
        assert.ok(example.messages.at(-1)?.content.includes(chunk.sourceId));
      assertTrainsOnServedIds(tokenise(model, example, body.messages, 2048));
    });
  }

  it("PEFT: a long item loses its lowest-ranked chunk in training as in serving, never the instructions", {
    skip: !jinja && "python3 with jinja2 is not here",
  }, async () => {
    const pair = pairs[2];
    const chunks = retrieved.get(pair.id) ?? [];
    const body = await evaluationRequest("chat", pair, SMALL_MODEL);
    const counter = countWith(SMALL_MODEL);
    let example: PeftExample;
    let maxSeqLength: number;
    try {
      // Room for the top two chunks, the answer and EOS, not for the third: as the small window leaves in serving.
      const topTwo = renderRagPrompt({ question: pair.question, contexts: chunks.slice(0, 2) });
      const needed =
        (await counter.countMessages(chatMessagesForModel(SMALL_MODEL, topTwo))) +
        (await counter.countText(pair.answer)) +
        1;
      maxSeqLength = needed + 20;
      [example] = await buildPeftExamples([pair], { baseModel: SMALL_MODEL, maxSeqLength, counter });
    } finally {
      await counter.close();
    }
    assert.equal(example.truncation, "dropped context 3 of 3");
    const user = body.messages?.at(-1)?.content ?? "";
    assert.ok(user.includes(chunks[0].sourceId) && user.includes(chunks[1].sourceId), "serving keeps the top chunks");
    assert.ok(!user.includes(chunks[2].sourceId), "serving drops the lowest-ranked chunk");
    assert.deepEqual(example.messages, body.messages, "training drops the same chunk, instructions kept");
    assertTrainsOnServedIds(tokenise(SMALL_MODEL, example, body.messages, maxSeqLength));
  });

  it("hosted fine-tuning: the chat example is the generator's chat messages plus the answer", async () => {
    const lines = renderChatJsonl(pairs)
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { messages: { role: string; content: string }[] });
    const pair = pairs[1];
    const body = await evaluationRequest("chat", pair);
    const example = lines[1].messages;
    assert.deepEqual(example.slice(0, -1), body.messages);
    assert.deepEqual(example.at(-1), { role: "assistant", content: pair.answer });
    assert.ok(example.some((m) => m.content.includes(retrieved.get(pair.id)?.[1].sourceId ?? "?")));
  });
});
