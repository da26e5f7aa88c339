import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { FineTuneMethod, ModelRefSchema, SpreadSchema } from "@ragtune/contracts/common";
import { DatasetSpecSchema, ExperimentSpecSchema } from "@ragtune/contracts/gateway";
import { GeneratorService } from "@ragtune/contracts/generator";
import {
  CriterionScoreSchema,
  JudgeService,
  type ScoreBatchRequest,
  ScoreResponseSchema,
  ScoringMode,
} from "@ragtune/contracts/judge";
import { TrainerService } from "@ragtune/contracts/trainer";
import { createLogger } from "@ragtune/runtime";
import type { QaItem } from "@ragtune/datasets";
import { runCell } from "./cell-runner.js";
import type { PreparedDataset } from "./dataset-preparation.js";

/** Runs a base cell of one item through runCell; returns what the judge was sent and the cell's result. */
async function runOneItem(generated: string, item: QaItem, prepared: Partial<PreparedDataset> = {}) {
  const seen: ScoreBatchRequest[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(GeneratorService, {
      generate: async () => ({ answer: generated, latencySeconds: 0.01 }),
    });
    service(JudgeService, {
      scoreBatch: async (request) => {
        seen.push(request);
        return {
          results: request.items.map((scored) =>
            create(ScoreResponseSchema, {
              itemId: scored.itemId,
              scores: [
                create(CriterionScoreSchema, {
                  criterion: "accuracy",
                  spread: create(SpreadSchema, { n: 1, mean: 5 }),
                }),
              ],
            }),
          ),
        };
      },
    });
    service(TrainerService, {});
  });
  const spec = create(ExperimentSpecSchema, {
    criteria: ["accuracy"],
    judge: { mode: ScoringMode.REFERENCE, repeats: 1 },
    seed: 1n,
  });
  const result = await runCell({
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
    spec,
    prepared: {
      name: "nq",
      collection: "c",
      manifestUri: "",
      manifestSha256: "",
      poolSizes: {},
      evalItems: [item],
      contexts: new Map(),
      ...prepared,
    },
    clients: {
      trainer: createClient(TrainerService, transport),
      generator: createClient(GeneratorService, transport),
      judge: createClient(JudgeService, transport),
    },
    signal: new AbortController().signal,
    logger: createLogger("cell-runner-test", { level: "error" }),
    onStage: () => {},
  });
  assert.equal(seen.length, 1);
  return { sent: seen[0].items[0], result };
}

describe("runCell's judge call", () => {
  it("passes every acceptable answer of an item to the judge, not only the first", async () => {
    const item = {
      id: "q1",
      question: "What is Paris called?",
      answer: "Lutetia",
      answers: ["Lutetia", "the City of Light"],
      evidence: [],
      evidenceDocumentIds: [],
      type: "factoid",
      metadata: {},
    };
    const { sent, result } = await runOneItem("The City of Light.", item);
    assert.equal(sent.answer, "The City of Light.");
    assert.deepEqual(sent.referenceAnswers, ["Lutetia", "the City of Light"]);
    assert.equal(result.scores.q1.accuracy, 5);
  });

  it('judges a Qasper abstention as Qasper\'s "Unanswerable", and a real answer as given', async () => {
    const item = {
      id: "1909.00694_q3",
      question: "Which languages does the corpus cover?",
      answer: "Unanswerable",
      answers: ["Unanswerable"],
      evidence: [],
      evidenceDocumentIds: ["1909.00694"],
      type: "unanswerable",
      metadata: { dataset: "qasper", paper_id: "1909.00694" },
    };
    const qasper = { abstentionAnswer: "Unanswerable" };
    const abstained = await runOneItem("The context does not answer this question.", item, qasper);
    assert.equal(abstained.sent.answer, "Unanswerable");
    assert.equal(abstained.result.answers?.[0]?.answer, "Unanswerable", "answers.jsonl keeps what was judged");
    const answered = await runOneItem("Japanese only.", item, qasper);
    assert.equal(answered.sent.answer, "Japanese only.");
    const elsewhere = await runOneItem("The context does not answer this question.", item);
    assert.equal(elsewhere.sent.answer, "The context does not answer this question.", "only where the dataset says");
  });
});
