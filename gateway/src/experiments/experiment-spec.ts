/**
 * Validation and defaults of an ExperimentSpec, in one place. Defaults are the paper's protocol: chunks of
 * 1,500 characters, top 5, fine-tune sizes {0, 200, 500, 1000}, LoRA, accuracy and completeness, 10 repeats.
 */
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod, FineTuneMethodSchema } from "@ragtune/contracts/common";
import { type ExperimentSpec, ExperimentSpecSchema, HyperparametersSchema } from "@ragtune/contracts/gateway";
import { JudgeConfigSchema, ScoringMode, ScoringModeSchema } from "@ragtune/contracts/judge";
import { ChunkingConfigSchema } from "@ragtune/contracts/retriever";
import { invalidArgument, requireKnownEnum, requireNonEmpty, requireRange } from "@ragtune/runtime";

export const DATASET_FORMATS = ["bioasq", "nq", "nq-open", "qasper"] as const;
export const DEFAULT_FINETUNE_SIZES = [0, 200, 500, 1000];
export const DEFAULT_CRITERIA = ["accuracy", "completeness"];

/** Checks the spec as the client sent it; throws INVALID_ARGUMENT naming the first wrong field. */
export function validateExperimentSpec(spec: ExperimentSpec | undefined): asserts spec is ExperimentSpec {
  if (!spec) throw invalidArgument("spec", "is required");
  requireNonEmpty("spec.name", spec.name);
  if (spec.datasets.length === 0) throw invalidArgument("spec.datasets", "must name at least one dataset");
  spec.datasets.forEach((d, i) => {
    if (!(DATASET_FORMATS as readonly string[]).includes(d.format)) {
      throw invalidArgument(`spec.datasets[${i}].format`, `must be one of ${DATASET_FORMATS.join(", ")}`);
    }
    if (d.paths.length === 0) throw invalidArgument(`spec.datasets[${i}].paths`, "must name at least one file");
  });
  if (spec.baseModels.length === 0) throw invalidArgument("spec.base_models", "must name at least one model");
  spec.baseModels.forEach((m, i) => {
    requireNonEmpty(`spec.base_models[${i}].base_model`, m.baseModel);
    if (m.adapter) throw invalidArgument(`spec.base_models[${i}].adapter`, "base models carry no adapter");
  });
  spec.finetuneSizes.forEach((size, i) => requireRange(`spec.finetune_sizes[${i}]`, size, 0, 100_000));
  spec.methods.forEach((method, i) => requireKnownEnum(`spec.methods[${i}]`, method, FineTuneMethodSchema));
  spec.hyperparameters.forEach((h, i) => {
    const at = `spec.hyperparameters[${i}]`;
    requireRange(`${at}.epochs`, h.epochs, 0, 100);
    requireRange(`${at}.lora_dropout`, h.loraDropout, 0, 0.999);
    if (h.loraAlpha < 0) throw invalidArgument(`${at}.lora_alpha`, "must be > 0");
    if (h.learningRate < 0) throw invalidArgument(`${at}.learning_rate`, "must be > 0");
  });
  if (spec.chunking) {
    if (spec.chunking.chunkSize !== 0) requireRange("spec.chunking.chunk_size", spec.chunking.chunkSize, 50, 100_000);
    if (spec.chunking.chunkOverlap >= Math.max(spec.chunking.chunkSize, 1500) && spec.chunking.chunkOverlap > 0) {
      throw invalidArgument("spec.chunking.chunk_overlap", "must be smaller than chunk_size");
    }
  }
  requireRange("spec.top_k", spec.topK, 0, 1000);
  if (spec.judge) {
    requireKnownEnum("spec.judge.mode", spec.judge.mode, ScoringModeSchema, { allowUnspecified: true });
    requireRange("spec.judge.repeats", spec.judge.repeats, 0, 100);
  }
  spec.criteria.forEach((c, i) => requireNonEmpty(`spec.criteria[${i}]`, c));
}

/** The spec with every default filled in, as stored and run. */
export function withDefaults(spec: ExperimentSpec): ExperimentSpec {
  const full = create(ExperimentSpecSchema, spec);
  full.datasets = full.datasets.map((d) => ({ ...d, name: d.name || d.format }));
  if (full.finetuneSizes.length === 0) full.finetuneSizes = [...DEFAULT_FINETUNE_SIZES];
  if (full.methods.length === 0) full.methods = [FineTuneMethod.LORA];
  if (full.hyperparameters.length === 0) full.hyperparameters = [create(HyperparametersSchema, {})];
  full.hyperparameters = full.hyperparameters.map((h) =>
    create(HyperparametersSchema, {
      ...h,
      epochs: h.epochs || 3,
      microBatchSize: h.microBatchSize || 4,
      gradientAccumulationSteps: h.gradientAccumulationSteps || 1,
      learningRate: h.learningRate || 2e-4,
      loraRank: h.loraRank || 16,
      loraAlpha: h.loraAlpha || 32,
      loraDropout: h.loraDropout || 0.05,
    }),
  );
  full.chunking = create(ChunkingConfigSchema, {
    chunkSize: full.chunking?.chunkSize || 1500,
    chunkOverlap: full.chunking?.chunkOverlap ?? 0,
  });
  full.topK ||= 5;
  const judge = create(JudgeConfigSchema, full.judge ?? {});
  // Without a judge model configured, the model-free reference scorer is the only honest choice.
  if (judge.mode === ScoringMode.UNSPECIFIED) judge.mode = ScoringMode.REFERENCE;
  judge.repeats ||= 10;
  full.judge = judge;
  if (full.criteria.length === 0) full.criteria = [...DEFAULT_CRITERIA];
  return full;
}

/** Cells of the grid: one base cell per dataset × model, plus one per size > 0 × method × hyperparameter set. */
export function countCells(spec: ExperimentSpec): number {
  const tuned = spec.finetuneSizes.filter((s) => s > 0).length * spec.methods.length * spec.hyperparameters.length;
  const base = spec.finetuneSizes.includes(0) ? 1 : 0;
  return spec.datasets.length * spec.baseModels.length * (base + tuned);
}
