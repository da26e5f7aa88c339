/** The grid of an experiment as cells: one base-model cell per dataset × model, and one per fine-tuning variant. */
import { FineTuneMethod, type ModelRef } from "@ragtune/contracts/common";
import type { DatasetSpec, ExperimentSpec, Hyperparameters } from "@ragtune/contracts/gateway";

export interface Cell {
  /** Stable key, usable as a KV key and a job id part. */
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
