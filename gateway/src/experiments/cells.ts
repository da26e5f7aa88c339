/** The grid of an experiment as cells: one base-model cell per dataset × model, and one per fine-tuning variant. */
import { createHash } from "node:crypto";
import { FineTuneMethod, type ModelRef } from "@ragtune/contracts/common";
import type { DatasetSpec, ExperimentSpec, Hyperparameters } from "@ragtune/contracts/gateway";

/**
 * A cell key is always three dot-separated KV key tokens (dataset, model, variant), none holding a dot itself, so
 * `<experiment id>.<cell key>` is split unambiguously and a listing can match one experiment's keys exactly.
 */
export const CELL_KEY_TOKENS = 3;

/** The longest job id the trainer takes. */
export const MAX_JOB_ID_LENGTH = 128;

/**
 * The trainer job of a cell: `<experiment>.<cell key>` in the characters job ids allow. A longer one keeps its
 * start and ends in a hash of the whole, so two cells never share a job (a cut alone would merge ids that differ
 * only past the cut).
 */
export function jobIdFor(experimentId: string, cellKey: string): string {
  const full = `${experimentId}.${cellKey}`.replace(/[^A-Za-z0-9._-]/g, "-");
  if (full.length <= MAX_JOB_ID_LENGTH) return full;
  const hash = createHash("sha256").update(`${experimentId}\n${cellKey}`).digest("hex").slice(0, 16);
  return `${full.slice(0, MAX_JOB_ID_LENGTH - hash.length - 1)}-${hash}`;
}

/**
 * The idempotency key of one question's generation in one cell: a retry of it (the generator or this gateway
 * restarted) is answered from what the generator kept, not by the model again. Hashed: item ids are the dataset's.
 */
export function generationKeyFor(experimentId: string, cellKey: string, itemId: string): string {
  return `ragtune-cell/${createHash("sha256").update(`${experimentId}\n${cellKey}\n${itemId}`).digest("hex")}`;
}

export interface Cell {
  /** Stable key, usable as a KV key and a job id part: CELL_KEY_TOKENS tokens. */
  key: string;
  dataset: DatasetSpec;
  model: ModelRef;
  modelIndex: number;
  /** 0 for the base model. */
  size: number;
  method: FineTuneMethod;
  hyperparameters?: Hyperparameters;
  hyperparametersIndex: number;
}

function slug(text: string): string {
  return (
    text
      .replace(/[^A-Za-z0-9_-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40) || "x"
  );
}

export function enumerateCells(spec: ExperimentSpec): Cell[] {
  const cells: Cell[] = [];
  for (const dataset of spec.datasets) {
    spec.baseModels.forEach((model, modelIndex) => {
      const prefix = `${slug(dataset.name)}.m${modelIndex}-${slug(model.baseModel)}`;
      if (spec.finetuneSizes.includes(0)) {
        cells.push({
          key: `${prefix}.base`,
          dataset,
          model,
          modelIndex,
          size: 0,
          method: FineTuneMethod.UNSPECIFIED,
          hyperparametersIndex: 0,
        });
      }
      for (const size of spec.finetuneSizes.filter((s) => s > 0)) {
        for (const method of spec.methods) {
          spec.hyperparameters.forEach((hyperparameters, hyperparametersIndex) => {
            cells.push({
              key: `${prefix}.${FineTuneMethod[method].toLowerCase()}-${size}-h${hyperparametersIndex}`,
              dataset,
              model,
              modelIndex,
              size,
              method,
              hyperparameters,
              hyperparametersIndex,
            });
          });
        }
      }
    });
  }
  return cells;
}
