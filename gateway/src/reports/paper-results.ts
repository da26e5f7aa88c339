/**
 * The paper's published numbers, shown beside ours for the same cells. Source: Barnett et al., "Fine-tuning or
 * fine-failing? Debunking performance myths in large language models", arXiv:2406.11201 (2024). Only values
 * we are sure of are listed; a cell not listed is shown without a published value, never with a guessed one.
 */
import type { ResultRow } from "@ragtune/contracts/gateway";

export const PAPER_CITATION =
  'Barnett et al., "Fine-tuning or fine-failing? Debunking performance myths in large language models", arXiv:2406.11201 (2024)';

export interface PaperValue {
  dataset: string;
  /** The paper's name of the model. */
  model: string;
  /** Which of our base model names are that model. */
  matches: RegExp;
  /** 0 for the base model. */
  finetuneSize: number;
  criterion: string;
  /** Mean judge score, 1–5. */
  mean: number;
}

const LLAMA_2 = /llama[-_ ]?2/i;

export const PAPER_VALUES: readonly PaperValue[] = [
  { dataset: "qasper", model: "Llama 2", matches: LLAMA_2, finetuneSize: 0, criterion: "accuracy", mean: 4.38 },
  { dataset: "qasper", model: "Llama 2", matches: LLAMA_2, finetuneSize: 200, criterion: "accuracy", mean: 3.14 },
  { dataset: "qasper", model: "Llama 2", matches: LLAMA_2, finetuneSize: 0, criterion: "completeness", mean: 4.55 },
  { dataset: "qasper", model: "Llama 2", matches: LLAMA_2, finetuneSize: 200, criterion: "completeness", mean: 2.35 },
];

/** The published value for a row's cell, if the paper gives one. */
export function paperValueFor(
  row: Pick<ResultRow, "dataset" | "baseModel" | "finetuneSize" | "criterion">,
): PaperValue | undefined {
  return PAPER_VALUES.find(
    (p) =>
      p.dataset === row.dataset &&
      p.matches.test(row.baseModel) &&
      p.finetuneSize === row.finetuneSize &&
      p.criterion === row.criterion,
  );
}
