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
import { runCell } from "./cell-runner.js";

describe("runCell's judge call", () => {
  it("passes every acceptable answer of an item to the judge, not only the first", async () => {
    const seen: ScoreBatchRequest[] = [];
    const transport = createRouterTransport(({ service }) => {
      service(GeneratorService, {
        generate: async () => ({ answer: "The City of Light.", latencySeconds: 0.01 }),
      });
      service(JudgeService, {
        scoreBatch: async (request) => {
          seen.push(request);
          return {
            results: request.items.map((item) =>
              create(ScoreResponseSchema, {
                itemId: item.itemId,
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
    const [sent] = seen[0].items;
    assert.equal(sent.answer, "The City of Light.");
    assert.deepEqual(sent.referenceAnswers, ["Lutetia", "the City of Light"]);
    assert.equal(result.scores.q1.accuracy, 5);
  });
});
