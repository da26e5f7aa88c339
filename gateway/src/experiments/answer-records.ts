/**
 * What a cell keeps besides its per-question means: every answer with its contexts and every judge repeat
 * (score and rationale), and per criterion how the judge scored (mode, model, repeats, its spread within a
 * question), so every number of the results table can be traced to the items behind it.
 */
import { create } from "@bufbuild/protobuf";
import { type AnswerRecord, AnswerRecordSchema } from "@ragtune/contracts/gateway";
import type { ScoreResponse, ScoringMode } from "@ragtune/contracts/judge";
import type { Cell } from "./cells.js";
import type { PreparedDataset } from "./dataset-preparation.js";

/** How the judge scored one criterion of a cell. */
export interface JudgeSummary {
  mode: ScoringMode;
  model: string;
  /** Mean over questions of the standard deviation across that question's successful repeats. */
  meanItemStddev: number;
  /** Mean over questions of the number of successful repeats. */
  meanRepeats: number;
}

export interface JudgedRecords {
  manifestSha256: string;
  judge: Record<string, JudgeSummary>;
  answers: AnswerRecord[];
}

export function judgedRecords(options: {
  cell: Cell;
  prepared: PreparedDataset;
  adapterId: string;
  answers: ReadonlyMap<string, string>;
  judged: readonly ScoreResponse[];
}): JudgedRecords {
  const { cell, prepared } = options;
  const byItem = new Map(options.judged.map((r) => [r.itemId, r]));
  const sums = new Map<string, { mode: ScoringMode; model: string; sd: number; repeats: number; items: number }>();
  for (const result of options.judged) {
    for (const score of result.scores) {
      const sum = sums.get(score.criterion) ?? {
        mode: score.mode,
        model: score.judgeModel,
        sd: 0,
        repeats: 0,
        items: 0,
      };
      if (score.spread && score.spread.n > 0) {
        sum.sd += score.spread.stddev;
        sum.repeats += score.spread.n;
        sum.items++;
      }
      sums.set(score.criterion, sum);
    }
  }
  const judge: Record<string, JudgeSummary> = {};
  for (const [criterion, s] of sums) {
    judge[criterion] = {
      mode: s.mode,
      model: s.model,
      meanItemStddev: s.items ? s.sd / s.items : 0,
      meanRepeats: s.items ? s.repeats / s.items : 0,
    };
  }
  const answers = prepared.evalItems.map((item) =>
    create(AnswerRecordSchema, {
      cellKey: cell.key,
      dataset: prepared.name,
      baseModel: cell.model.baseModel,
      method: cell.method,
      finetuneSize: cell.size,
      hyperparametersIndex: cell.hyperparametersIndex,
      adapterId: options.adapterId,
      itemId: item.id,
      question: item.question,
      answer: options.answers.get(item.id) ?? "",
      contexts: (prepared.contexts.get(item.id) ?? []).map((c) => ({
        text: c.text,
        sourceId: c.sourceId,
        score: c.score,
      })),
      referenceAnswers: item.answers.length ? item.answers : [item.answer],
      scores: byItem.get(item.id)?.scores ?? [],
    }),
  );
  return { manifestSha256: prepared.manifestSha256, judge, answers };
}
