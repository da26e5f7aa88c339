/**
 * A fine-tune must see the prompt the model is evaluated with. The split manifest is written by the gateway's
 * writer (@ragtune/datasets, with the retrieved chunks the experiment holds), the trainer renders its fine-tuning
 * examples from that file (training-pairs.ts, then the PEFT and hosted executors' JSONL), and the generator, over
 * gRPC, sends the evaluation prompt for the same question and chunks to an OpenAI-compatible server (a fake one
 * that records what it is sent). Both must be identical up to the answer: a field the two sides name differently
 * (the trainer once read `source_id` where the gateway wrote `sourceId`) shows up here as "(source: unknown)".
 */
import assert from "node:assert/strict";
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
import { createServiceClient } from "@ragtune/runtime";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "@ragtune/testing";
import { serveGenerator, startNatsForTest } from "../services/generator/test/serve-generator.js";
import { renderChatJsonl } from "../services/trainer/src/agent/executors/openai.js";
import { renderTrainingJsonl } from "../services/trainer/src/agent/executors/peft.js";
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

/** What the retriever returned for each question: chunk ids of the collection, as the gateway keeps them. */
const retrieved = new Map<string, RetrievedChunk[]>(
  items.map((item, i) => [
    item.id,
    [
      { text: item.evidence[0], sourceId: `atlas-${i}#chunk-0`, score: 3.25 },
      { text: "Lumeria's winters are mild and short.", sourceId: `almanac-${i}#chunk-7`, score: 1.5 },
    ],
  ]),
);

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
    fake = await startFakeOpenAiServer();
  });

  after(async () => {
    await fake?.close();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Asks the generator (served over a socket with its OpenAI-compatible backend) and returns the request body. */
  async function evaluationRequest(api: "completion" | "chat", pair: TrainingPair) {
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
        model: { baseModel: "fake-base", backend: "openai" },
        sampling: { temperature: 0, maxTokens: 64 },
      });
      const sent = fake.requests.slice(before).filter((r) => r.method === "POST");
      assert.equal(sent.length, 1, `one generation request, got ${sent.map((r) => r.path).join(", ")}`);
      return sent[0].body as { prompt?: string; messages?: { role: string; content: string }[] };
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

  it("PEFT: the {prompt, completion} line's prompt is the generator's plain-completion prompt", async () => {
    const lines = renderTrainingJsonl(pairs)
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { prompt: string; completion: string });
    const pair = pairs[0];
    const body = await evaluationRequest("completion", pair);
    assert.equal(lines[0].prompt, body.prompt);
    assert.equal(lines[0].completion, ` ${pair.answer}`);
    for (const chunk of retrieved.get(pair.id) ?? []) assert.ok(lines[0].prompt.includes(chunk.sourceId));
    assert.doesNotMatch(lines[0].prompt, /unknown/);
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
