/**
 * What a cell keeps besides its per-question means: every answer with its contexts and every judge repeat
 * (score and rationale), and per criterion how the judge scored (mode, model, repeats, its spread within a
 * question), so every number of the results table can be traced to the items behind it. Both are built batch by
 * batch as the judge answers, so a cell of any size is streamed to the store, never held whole.
 */
import { create } from "@bufbuild/protobuf";
import { type AnswerRecord, AnswerRecordSchema } from "@ragtune/contracts/gateway";
import type { ScoreResponse, ScoringMode } from "@ragtune/contracts/judge";
import type { Cell } from "./cells.js";
import type { PreparedDataset, RetrievedContext } from "./dataset-preparation.js";
import type { QaItem } from "@ragtune/datasets";

/** How the judge scored one criterion of a cell. */
export interface JudgeSummary {
  mode: ScoringMode;
  model: string;
  /** Mean over questions of the standard deviation across that question's successful repeats. */
  meanItemStddev: number;
  /** Mean over questions of the number of successful repeats. */
  meanRepeats: number;
}

/** Per criterion, how the judge scored a cell: summed batch by batch, so no judged answer has to be kept. */
export class JudgeSummaries {
  private readonly sums = new Map<
    string,
    { mode: ScoringMode; model: string; sd: number; repeats: number; items: number }
  >();

  add(results: readonly ScoreResponse[]): void {
    for (const result of results) {
      for (const score of result.scores) {
        const sum = this.sums.get(score.criterion) ?? {
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
        this.sums.set(score.criterion, sum);
      }
    }
  }

  summary(): Record<string, JudgeSummary> {
    const judge: Record<string, JudgeSummary> = {};
    for (const [criterion, s] of this.sums) {
      judge[criterion] = {
        mode: s.mode,
        model: s.model,
        meanItemStddev: s.items ? s.sd / s.items : 0,
        meanRepeats: s.items ? s.repeats / s.items : 0,
      };
    }
    return judge;
  }
}

/** One evaluation answer of a cell with its contexts and every judge repeat. */
export function answerRecord(options: {
  cell: Cell;
  prepared: Pick<PreparedDataset, "name">;
  adapterId: string;
  item: QaItem;
  answer: string;
  /** The chunks the answer was generated from (read from the store by the cell, a batch at a time). */
  contexts: readonly RetrievedContext[];
  judged?: ScoreResponse;
}): AnswerRecord {
  const { cell, prepared, item } = options;
  return create(AnswerRecordSchema, {
    cellKey: cell.key,
    dataset: prepared.name,
    baseModel: cell.model.baseModel,
    method: cell.method,
    finetuneSize: cell.size,
    hyperparametersIndex: cell.hyperparametersIndex,
    adapterId: options.adapterId,
    itemId: item.id,
    question: item.question,
    answer: options.answer,
    contexts: options.contexts.map((c) => ({
      text: c.text,
      sourceId: c.sourceId,
      score: c.score,
    })),
    referenceAnswers: item.answers.length ? item.answers : [item.answer],
    scores: options.judged?.scores ?? [],
  });
}

/** A whole cell's records and judge summary at once, from answers and judgements in memory (tests, reports). */
export function judgedRecords(options: {
  cell: Cell;
  /** A dataset whose chunks are in memory, unlike a prepared one's. */
  prepared: Pick<PreparedDataset, "name" | "manifestSha256" | "evalItems"> & {
    contexts: ReadonlyMap<string, readonly RetrievedContext[]>;
  };
  adapterId: string;
  answers: ReadonlyMap<string, string>;
  judged: readonly ScoreResponse[];
}): { manifestSha256: string; judge: Record<string, JudgeSummary>; answers: AnswerRecord[] } {
  const summaries = new JudgeSummaries();
  summaries.add(options.judged);
  const byItem = new Map(options.judged.map((r) => [r.itemId, r]));
  const answers = options.prepared.evalItems.map((item) =>
    answerRecord({
      ...options,
      item,
      answer: options.answers.get(item.id) ?? "",
      contexts: options.prepared.contexts.get(item.id) ?? [],
      judged: byItem.get(item.id),
    }),
  );
  return { manifestSha256: options.prepared.manifestSha256, judge: summaries.summary(), answers };
}
