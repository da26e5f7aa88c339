/**
 * A finished run for report tests, made the way the gateway makes it: cell results with planted scores go
 * through judgedRecords (what a cell keeps of its answers and judge) and buildResultRows (the table GetResults
 * returns). Two base models (one of them Llama 2, so the paper's Qasper values apply) × two datasets × sizes
 * 0/200/500 × accuracy and completeness.
 */
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod, ModelRefSchema } from "@ragtune/contracts/common";
import { type AnswerRecord, ExperimentSchema, ExperimentState } from "@ragtune/contracts/gateway";
import { CriterionScoreSchema, type ScoreResponse, ScoreResponseSchema, ScoringMode } from "@ragtune/contracts/judge";
import { seededRandom, spreadOf } from "@ragtune/runtime";
import { judgedRecords } from "../../src/experiments/answer-records.js";
import type { CellResult } from "../../src/experiments/cell-results.js";
import type { Cell } from "../../src/experiments/cells.js";
import { buildResultRows } from "../../src/experiments/results-table.js";

export const MODELS = ["llama-2-7b-chat", "mistral-7b-instruct"];
export const DATASETS = ["bioasq", "qasper"];
export const SIZES = [0, 200, 500];
export const CRITERIA = ["accuracy", "completeness"];
export const ITEMS = 30;
const REPEATS = 3;

export function plantedRun(judgeMode = ScoringMode.LOGPROB_WEIGHTED, backend = "openai") {
  const random = seededRandom(9);
  const spec = {
    name: "planted report run",
    criteria: CRITERIA,
    methods: [FineTuneMethod.LORA],
    seed: 1n,
    topK: 5,
    chunking: { chunkSize: 1500 },
    baseModels: MODELS.map((baseModel) => create(ModelRefSchema, { baseModel, backend })),
  };
  const experiment = create(ExperimentSchema, {
    experimentId: "planted-report",
    spec,
    state: ExperimentState.SUCCEEDED,
    cellsDone: 12,
    cellsTotal: 12,
  });
  const cells: CellResult[] = [];
  const answers: AnswerRecord[] = [];
  for (const dataset of DATASETS) {
    const evalItems = Array.from({ length: ITEMS }, (_, i) => ({
      id: `${dataset}-q${i}`,
      question: `question ${i} of ${dataset}?`,
      answer: `answer ${i}`,
      answers: [`answer ${i}`, `also answer ${i}`],
      evidence: [],
      evidenceDocumentIds: [],
      type: "factoid",
      metadata: {},
    }));
    const prepared = {
      name: dataset,
      manifestSha256: `sha-${dataset}`,
      evalItems,
      contexts: new Map(
        evalItems.map((item) => [item.id, [{ text: `context of ${item.id}`, sourceId: "c1", score: 2.5 }]]),
      ),
    };
    MODELS.forEach((baseModel, modelIndex) => {
      for (const size of SIZES) {
        const method = size ? FineTuneMethod.LORA : FineTuneMethod.UNSPECIFIED;
        const cell = {
          key: `${dataset}.m${modelIndex}.${size}`,
          model: spec.baseModels[modelIndex],
          modelIndex,
          size,
          method,
          hyperparametersIndex: 0,
        } as Cell;
        const scores: CellResult["scores"] = {};
        const judged: ScoreResponse[] = [];
        for (const item of evalItems) {
          scores[item.id] = {};
          const response = create(ScoreResponseSchema, { itemId: item.id });
          for (const criterion of CRITERIA) {
            // Planted: fine-tuning lowers the score by 0.3 per 200 pairs (the paper's direction).
            const truth = 3.8 - (size / 200) * 0.3 + (random() - 0.5);
            const repeats = Array.from({ length: REPEATS }, () =>
              Math.min(5, Math.max(1, truth + (random() - 0.5) * 0.6)),
            );
            const spread = spreadOf(repeats);
            scores[item.id][criterion] = spread.mean;
            response.scores.push(
              create(CriterionScoreSchema, {
                criterion,
                mode: judgeMode,
                judgeModel: judgeMode === ScoringMode.REFERENCE ? "reference-scorer" : "judge-model",
                spread,
                repeats: repeats.map((score, repeatIndex) => ({
                  repeatIndex,
                  score,
                  rationale: `rationale ${repeatIndex} for ${item.id}`,
                })),
              }),
            );
          }
          judged.push(response);
        }
        const kept = judgedRecords({
          cell,
          prepared,
          adapterId: size ? `adapter-${cell.key}` : "",
          answers: new Map(evalItems.map((i) => [i.id, `answer to ${i.id}`])),
          judged,
        });
        answers.push(...kept.answers);
        cells.push({
          cellKey: cell.key,
          dataset,
          baseModel,
          modelIndex,
          method,
          size,
          trainedOn: size,
          hyperparametersIndex: 0,
          adapterId: size ? `adapter-${cell.key}` : "",
          executor: size ? "peft" : "",
          scores,
          failedRepeats: {},
          generationLatencySeconds: 0,
          outputTokens: 0,
          finishTime: "",
          manifestSha256: kept.manifestSha256,
          judge: kept.judge,
        });
      }
    });
  }
  return { experiment, rows: buildResultRows(cells, spec), answers };
}

/** The answers as ExportAnswers streams them. */
export async function* answerStream(answers: AnswerRecord[]) {
  for (const record of answers) yield { record };
}
