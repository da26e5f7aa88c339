import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { FineTuneMethod, ModelRefSchema, SpreadSchema } from "@ragtune/contracts/common";
import { DatasetSpecSchema, ExperimentSpecSchema } from "@ragtune/contracts/gateway";
import { GeneratorService } from "@ragtune/contracts/generator";
import { CriterionScoreSchema, JudgeService, ScoreResponseSchema, ScoringMode } from "@ragtune/contracts/judge";
import { TrainerService } from "@ragtune/contracts/trainer";
import type { QaItem } from "@ragtune/datasets";
import { connectNats, createLogger, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import {
  type AnswerJournal,
  createKvAnswerJournal,
  createMemoryAnswerJournal,
  patientJournal,
} from "./answer-journal.js";
import { runCell } from "./cell-runner.js";

const items: QaItem[] = ["q1", "q2", "q3"].map((id) => ({
  id,
  question: `question ${id}?`,
  answer: "a",
  answers: ["a"],
  evidence: [],
  evidenceDocumentIds: [],
  type: "factoid",
  metadata: {},
}));

/** Runs one base cell of three questions; the generator answers `<tag> <question>` or fails for `failFor`. */
async function runWith(journal: AnswerJournal, tag: string, failFor?: string) {
  const asked: string[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(GeneratorService, {
      generate: async (request) => {
        asked.push(request.question);
        if (failFor && request.question.includes(failFor))
          throw new ConnectError("generator restarting", Code.Unavailable);
        return { answer: `${tag} ${request.question}`, latencySeconds: 0.5, usage: { outputTokens: 7 } };
      },
    });
    service(JudgeService, {
      scoreBatch: async (request) => ({
        results: request.items.map((scored) =>
          create(ScoreResponseSchema, {
            itemId: scored.itemId,
            scores: [
              create(CriterionScoreSchema, { criterion: "accuracy", spread: create(SpreadSchema, { n: 1, mean: 5 }) }),
            ],
          }),
        ),
      }),
    });
    service(TrainerService, {});
  });
  const result = runCell({
    experimentId: "e1",
    cell: {
      key: "nq.m0.0",
      dataset: create(DatasetSpecSchema, { name: "nq", format: "nq-open" }),
      model: create(ModelRefSchema, { baseModel: "reader" }),
      modelIndex: 0,
      size: 0,
      method: FineTuneMethod.UNSPECIFIED,
      hyperparametersIndex: 0,
    },
    spec: create(ExperimentSpecSchema, { criteria: ["accuracy"], judge: { mode: ScoringMode.REFERENCE, repeats: 1 } }),
    prepared: {
      name: "nq",
      collection: "c",
      manifestUri: "",
      manifestSha256: "",
      poolSizes: {},
      poolTokens: {},
      evalItems: items,
      contexts: new Map(),
    },
    clients: {
      trainer: createClient(TrainerService, transport),
      generator: createClient(GeneratorService, transport),
      judge: createClient(JudgeService, transport),
    },
    journal: journal.forCell("e1", "nq.m0.0"),
    signal: new AbortController().signal,
    logger: createLogger("answer-journal-test", { level: "error" }),
    onStage: () => {},
  });
  return { result, asked };
}

describe("a cell run again takes the answers its generator already gave", () => {
  it("asks only the question it had no answer for, and keeps the first answers", async () => {
    const journal = createMemoryAnswerJournal();
    const interrupted = await runWith(journal, "first", "q3");
    await assert.rejects(interrupted.result, /generator restarting/);

    const again = await runWith(journal, "second");
    const result = await again.result;
    assert.deepEqual(again.asked, ["question q3?"]);
    assert.deepEqual(
      result.answers?.map((a) => a.answer),
      ["first question q1?", "first question q2?", "second question q3?"],
    );
    // The journalled answers keep their own latency and tokens in the cell's sums.
    assert.equal(result.outputTokens, 21);
    assert.equal(result.generationLatencySeconds, 0.5);
  });

  it("without a journal, every question is asked again", async () => {
    const none: AnswerJournal = {
      forCell: () => ({ get: async () => undefined, put: async () => {} }),
      forget: async () => {},
    };
    await assert.rejects((await runWith(none, "first", "q3")).result);
    const again = await runWith(none, "second");
    await again.result;
    assert.equal(again.asked.length, 3);
  });
});

describe("patientJournal", () => {
  const logger = createLogger("answer-journal-test", { level: "error" });
  const answer = { answer: "x", latencySeconds: 1, outputTokens: 2 };

  it("waits out NATS restarting (calls that time out) and keeps the answer", async () => {
    const inner = createMemoryAnswerJournal().forCell("e", "nq.m0.0");
    let failures = 2;
    const flaky = {
      get: inner.get,
      put: async (itemId: string, a: typeof answer) => {
        if (failures-- > 0) throw Object.assign(new Error("timeout"), { name: "TimeoutError" });
        await inner.put(itemId, a);
      },
    };
    await patientJournal(flaky, logger).put("q1", answer);
    assert.deepEqual(await inner.get("q1"), answer);
  });

  it("passes on an error that waiting cannot fix", async () => {
    const broken = {
      get: async () => undefined,
      put: async () => {
        throw new Error("maximum bytes exceeded");
      },
    };
    await assert.rejects(patientJournal(broken, logger).put("q1", answer), /maximum bytes exceeded/);
  });
});

describe("the answer journal in NATS KV", () => {
  let nats: LocalNats;
  let handle: NatsHandle;
  before(async () => {
    nats = await startTestNats();
    handle = await connectNats({ url: nats.url, name: "answer-journal-test" });
  });
  after(async () => {
    await handle?.close();
    await nats?.stop();
  });

  it("keeps answers per experiment and cell, and forgets exactly one cell's", async () => {
    const journal = await createKvAnswerJournal(handle);
    const answer = { answer: "x", latencySeconds: 1, outputTokens: 2 };
    // Experiment "a" and experiment "a.b" with the same cell key: neither may see or drop the other's answers.
    await journal.forCell("a", "nq.m0.0").put("item/with spaces.and.dots", answer);
    await journal.forCell("a.b", "nq.m0.0").put("item/with spaces.and.dots", { ...answer, answer: "y" });
    await journal.forCell("a", "nq.m1.0").put("item", { ...answer, answer: "z" });

    assert.deepEqual(await journal.forCell("a", "nq.m0.0").get("item/with spaces.and.dots"), answer);
    assert.equal((await journal.forCell("a.b", "nq.m0.0").get("item/with spaces.and.dots"))?.answer, "y");
    assert.equal(await journal.forCell("a", "nq.m0.0").get("other item"), undefined);

    await journal.forget("a", "nq.m0.0");
    assert.equal(await journal.forCell("a", "nq.m0.0").get("item/with spaces.and.dots"), undefined);
    assert.equal((await journal.forCell("a.b", "nq.m0.0").get("item/with spaces.and.dots"))?.answer, "y");
    assert.equal((await journal.forCell("a", "nq.m1.0").get("item"))?.answer, "z");
  });
});
