import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { FineTuneMethod, ModelRefSchema, SpreadSchema } from "@ragtune/contracts/common";
import { DatasetSpecSchema, ExperimentSpecSchema, type Hyperparameters } from "@ragtune/contracts/gateway";
import { GeneratorService } from "@ragtune/contracts/generator";
import {
  CriterionScoreSchema,
  JudgeService,
  type ScoreBatchRequest,
  ScoreResponseSchema,
  ScoringMode,
} from "@ragtune/contracts/judge";
import { JobSchema, JobState, type SubmitJobRequest, TrainerService } from "@ragtune/contracts/trainer";
import { createLogger } from "@ragtune/runtime";
import type { QaItem } from "@ragtune/datasets";
import { runCell, trainingPriority } from "./cell-runner.js";
import type { PreparedDataset } from "./dataset-preparation.js";

/**
 * Runs a cell of one item through runCell (a base cell unless `fineTune` says what to train); returns what the judge
 * was sent, the cell's result and the fine-tune submitted.
 */
async function runOneItem(
  generated: string,
  item: QaItem,
  prepared: Partial<PreparedDataset> = {},
  fineTune: { size: number; method: FineTuneMethod; epochs: number } = {
    size: 0,
    method: FineTuneMethod.UNSPECIFIED,
    epochs: 0,
  },
  judging: Pick<MessageInitShape<typeof ExperimentSpecSchema>, "judge" | "backendConcurrency"> = {},
) {
  const seen: ScoreBatchRequest[] = [];
  const submitted: SubmitJobRequest[] = [];
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
    service(TrainerService, {
      submitJob: async (request) => {
        submitted.push(request);
        return {};
      },
      async *watchJob(request) {
        yield { job: create(JobSchema, { jobId: request.jobId, state: JobState.SUCCEEDED, adapterId: "ad-1" }) };
      },
    });
  });
  const spec = create(ExperimentSpecSchema, {
    criteria: ["accuracy"],
    judge: judging.judge ?? { mode: ScoringMode.REFERENCE, repeats: 1 },
    backendConcurrency: judging.backendConcurrency,
    seed: 1n,
  });
  const result = await runCell({
    experimentId: "e1",
    cell: {
      key: "nq.m0.0",
      dataset: create(DatasetSpecSchema, { name: "nq", format: "nq-open" }),
      model: create(ModelRefSchema, { baseModel: "reader" }),
      modelIndex: 0,
      size: fineTune.size,
      method: fineTune.method,
      hyperparametersIndex: 0,
      ...(fineTune.size > 0 ? { hyperparameters: { epochs: fineTune.epochs } as Hyperparameters } : {}),
    },
    spec,
    prepared: {
      name: "nq",
      collection: "c",
      manifestUri: "",
      manifestSha256: "",
      poolSizes: {},
      poolTokens: {},
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
  return { sent: seen[0].items[0], request: seen[0], result, submitted };
}

/** A factoid item with one acceptable answer. */
const PARIS = {
  id: "q1",
  question: "What is Paris called?",
  answer: "Lutetia",
  answers: ["Lutetia"],
  evidence: [],
  evidenceDocumentIds: [],
  type: "factoid",
  metadata: {},
};

describe("runCell's judge call", () => {
  it("passes every acceptable answer of an item to the judge, not only the first", async () => {
    const item = { ...PARIS, answers: ["Lutetia", "the City of Light"] };
    const { sent, result } = await runOneItem("The City of Light.", item);
    assert.equal(sent.answer, "The City of Light.");
    assert.deepEqual(sent.referenceAnswers, ["Lutetia", "the City of Light"]);
    assert.equal(result.scores.q1.accuracy, 5);
  });

  it("asks the judge for the spec's LLM requests per ScoreBatch call of the judge's backend, else its default", async () => {
    const judge = { model: { baseModel: "gpt-4o", backend: "openai" }, mode: ScoringMode.SINGLE, repeats: 10 };
    const set = await runOneItem("Lutetia.", PARIS, {}, undefined, {
      judge,
      backendConcurrency: [
        { backend: "vllm", judgeRequestsPerCall: 4 },
        { backend: "openai", judge: 16, judgeRequestsPerCall: 50 },
      ],
    });
    assert.equal(set.request.concurrency, 50);
    const unset = await runOneItem("Lutetia.", PARIS, {}, undefined, { judge });
    assert.equal(unset.request.concurrency, 0, "0: the judge service's default");
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

describe("runCell's fine-tune", () => {
  it("asks the trainer to run the fine-tunes that train on the most tokens first, QLoRA before LoRA of the same", () => {
    // Tokens of one pass over the pool: a Qasper pool of 500 (long chunks) reads more than a BioASQ pool of 1000.
    const order = [
      [1_600_000, FineTuneMethod.QLORA],
      [1_600_000, FineTuneMethod.LORA],
      [1_000_000, FineTuneMethod.QLORA],
      [400_000, FineTuneMethod.LORA],
      [200_000, FineTuneMethod.QLORA],
      [200_000, FineTuneMethod.LORA],
    ] as const;
    const priorities = order.map(([tokens, method]) => trainingPriority(tokens, 3, method));
    assert.deepEqual(
      priorities,
      [...priorities].sort((a, b) => b - a),
      "priorities fall along the tokens trained on",
    );
    assert.equal(new Set(priorities).size, priorities.length, "no two sizes share a priority");
    assert.ok(trainingPriority(500_000, 3, FineTuneMethod.LORA) > trainingPriority(1_000_000, 1, FineTuneMethod.QLORA));
    assert.equal(trainingPriority(1e12, 3, FineTuneMethod.LORA), 2 ** 31 - 1, "capped to the field's range");
  });

  it("submits the job with that priority", async () => {
    const item = PARIS;
    const { submitted, result } = await runOneItem(
      "Lutetia.",
      item,
      { poolSizes: { "finetune-500": 480 }, poolTokens: { "finetune-500": 96_000 } },
      {
        size: 500,
        method: FineTuneMethod.LORA,
        epochs: 2,
      },
    );
    assert.equal(submitted.length, 1);
    assert.equal(submitted[0].priority, trainingPriority(96_000, 2, FineTuneMethod.LORA));
    assert.equal(submitted[0].priority, 192 * 2, "96,000 tokens × 2 epochs: 192 thousand");
    assert.equal(result.adapterId, "ad-1");
  });
});
