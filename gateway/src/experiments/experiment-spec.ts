/**
 * Validation and defaults of an ExperimentSpec, in one place. Defaults are the paper's protocol: chunks of
 * 1,500 characters, top 5, fine-tune sizes {0, 200, 500, 1000}, LoRA, accuracy and completeness, 10 repeats.
 * Validation lists every problem (a spec file's author fixes them all in one go); the service reports them as
 * one INVALID_ARGUMENT whose message starts with the first problem's field path.
 */
import { clone, create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { FineTuneMethod, FineTuneMethodSchema } from "@ragtune/contracts/common";
import {
  type BackendConcurrency,
  type ExperimentSpec,
  ExperimentSpecSchema,
  GenerationSettingsSchema,
  HyperparametersSchema,
} from "@ragtune/contracts/gateway";
import { SamplingParamsSchema, TruncationPolicySchema } from "@ragtune/contracts/generator";
import { JudgeConfigSchema, RepeatStrategySchema, ScoringMode, ScoringModeSchema } from "@ragtune/contracts/judge";
import { ChunkingConfigSchema } from "@ragtune/contracts/retriever";
import { invalidArgument, requireKnownEnum, requireNonEmpty, requireRange } from "@ragtune/runtime";
import { type DatasetAccess, datasetAccessProblems } from "./dataset-access.js";
import {
  DATASET_NAME_PATTERN,
  DATASET_NAME_RULE,
  EXPERIMENT_NAME_PATTERN,
  MAX_EXPERIMENT_NAME_LENGTH,
} from "./names.js";
import { poolCapacityProblems } from "./pool-capacity.js";

export const DATASET_FORMATS = ["bioasq", "nq", "nq-open", "qasper"] as const;
export const DEFAULT_FINETUNE_SIZES = [0, 200, 500, 1000];
export const DEFAULT_CRITERIA = ["accuracy", "completeness"];
export const DEFAULT_MAX_TOKENS = 256;
export const DEFAULT_GENERATE_CONCURRENCY = 8;
export const DEFAULT_JUDGE_CONCURRENCY = 1;

/** One thing wrong with a spec: the field's path in proto names (`datasets[1].paths[0]`) and what is wrong. */
export interface SpecProblem {
  path: string;
  message: string;
}

/** Runs one of the runtime's throwing checks and records its complaint instead of stopping at it. */
function collector(problems: SpecProblem[]) {
  return (check: () => void) => {
    try {
      check();
    } catch (error) {
      if (!(error instanceof ConnectError)) throw error;
      const at = error.rawMessage.indexOf(": ");
      problems.push({ path: error.rawMessage.slice(0, at), message: error.rawMessage.slice(at + 2) });
    }
  };
}

function duplicates<T>(values: T[]): number[] {
  return values.flatMap((v, i) => (values.indexOf(v) < i ? [i] : []));
}

/** Every problem of a spec as a client sent it (before defaults), in field order. */
export function specProblems(spec: ExperimentSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const check = collector(problems);
  check(() => requireNonEmpty("name", spec.name));
  if (spec.name.length > MAX_EXPERIMENT_NAME_LENGTH) {
    add("name", `must be at most ${MAX_EXPERIMENT_NAME_LENGTH} characters, got ${spec.name.length}`);
  } else if (!EXPERIMENT_NAME_PATTERN.test(spec.name)) {
    add("name", "is display text: no / or \\ and no control characters");
  }
  if (spec.datasets.length === 0) add("datasets", "must name at least one dataset");
  spec.datasets.forEach((d, i) => {
    if (!(DATASET_FORMATS as readonly string[]).includes(d.format)) {
      const got = d.format ? `, got "${d.format}"` : "";
      add(
        `datasets[${i}].format`,
        `${d.format ? "must be" : "is required:"} one of ${DATASET_FORMATS.join(", ")}${got}`,
      );
    }
    // The runner loads one file or folder per dataset; more would be ignored without a word.
    d.paths.slice(1).forEach((_, j) => {
      add(`datasets[${i}].paths[${j + 1}]`, "one file or folder per dataset (a folder holds several files)");
    });
    if (d.paths.length === 0) add(`datasets[${i}].paths`, "must name at least one file or folder");
    d.paths.forEach((p, j) => check(() => requireNonEmpty(`datasets[${i}].paths[${j}]`, p)));
  });
  // The name (the format when unnamed) is a file name and a KV key token: one path segment, no dots.
  spec.datasets.forEach((d, i) => {
    if (d.name && !DATASET_NAME_PATTERN.test(d.name)) {
      add(`datasets[${i}].name`, `must be ${DATASET_NAME_RULE}, got ${JSON.stringify(d.name.slice(0, 80))}`);
    }
  });
  // Cells, collections and results are keyed by the dataset's name, so two datasets cannot share one.
  const names = spec.datasets.map((d) => d.name || d.format);
  for (const i of duplicates(names)) {
    add(`datasets[${i}].name`, `"${names[i]}" is also datasets[${names.indexOf(names[i])}]'s name; name them apart`);
  }
  if (spec.baseModels.length === 0) add("base_models", "must name at least one model");
  spec.baseModels.forEach((m, i) => {
    check(() => requireNonEmpty(`base_models[${i}].base_model`, m.baseModel));
    if (m.adapter) add(`base_models[${i}].adapter`, "base models carry no adapter");
  });
  spec.finetuneSizes.forEach((size, i) => check(() => requireRange(`finetune_sizes[${i}]`, size, 0, 100_000)));
  for (const i of duplicates(spec.finetuneSizes))
    add(`finetune_sizes[${i}]`, `${spec.finetuneSizes[i]} is listed twice`);
  spec.methods.forEach((method, i) => check(() => requireKnownEnum(`methods[${i}]`, method, FineTuneMethodSchema)));
  for (const i of duplicates(spec.methods)) add(`methods[${i}]`, "is listed twice");
  spec.hyperparameters.forEach((h, i) => {
    const at = `hyperparameters[${i}]`;
    check(() => requireRange(`${at}.epochs`, h.epochs, 0, 100));
    check(() => requireRange(`${at}.micro_batch_size`, h.microBatchSize, 0, 1024));
    check(() => requireRange(`${at}.gradient_accumulation_steps`, h.gradientAccumulationSteps, 0, 1024));
    check(() => requireRange(`${at}.learning_rate`, h.learningRate, 0, 1));
    check(() => requireRange(`${at}.lora_rank`, h.loraRank, 0, 1024));
    check(() => requireRange(`${at}.lora_alpha`, h.loraAlpha, 0, 10_000));
    check(() => requireRange(`${at}.lora_dropout`, h.loraDropout, 0, 0.999));
    h.targetModules.forEach((m, j) => check(() => requireNonEmpty(`${at}.target_modules[${j}]`, m)));
  });
  if (spec.chunking) {
    const size = spec.chunking.chunkSize || 1500;
    if (spec.chunking.chunkSize !== 0) check(() => requireRange("chunking.chunk_size", size, 50, 100_000));
    if (spec.chunking.chunkOverlap >= size) {
      add("chunking.chunk_overlap", `must be smaller than chunk_size (${size}), got ${spec.chunking.chunkOverlap}`);
    }
  }
  check(() => requireRange("top_k", spec.topK, 0, 1000));
  if (spec.judge) {
    const judge = spec.judge;
    check(() => requireKnownEnum("judge.mode", judge.mode, ScoringModeSchema, { allowUnspecified: true }));
    check(() => requireRange("judge.repeats", judge.repeats, 0, 100));
    if (judge.mode === ScoringMode.LOGPROB_WEIGHTED && judge.repeats > 1 && judge.repeats <= 100) {
      // The judge refuses it too: every request of one prompt reads the same score distribution (copies, spread 0).
      add(
        "judge.repeats",
        `SCORING_MODE_LOGPROB_WEIGHTED takes 1 repeat (deterministic per request), got ${judge.repeats}`,
      );
    }
    check(() => requireRange("judge.samples", judge.samples, 0, 100));
    check(() => requireRange("judge.temperature", judge.temperature, 0, 2));
    check(() =>
      requireKnownEnum("judge.repeat_strategy", judge.repeatStrategy, RepeatStrategySchema, { allowUnspecified: true }),
    );
  }
  spec.criteria.forEach((c, i) => check(() => requireNonEmpty(`criteria[${i}]`, c)));
  for (const i of duplicates(spec.criteria)) add(`criteria[${i}]`, `"${spec.criteria[i]}" is listed twice`);
  check(() => requireRange("eval_size", spec.evalSize, 0, 1_000_000));
  const generation = spec.generation;
  if (generation?.sampling) {
    const s = generation.sampling;
    check(() => requireRange("generation.sampling.temperature", s.temperature, 0, 2));
    check(() => requireRange("generation.sampling.top_p", s.topP, 0, 1));
    check(() => requireRange("generation.sampling.max_tokens", s.maxTokens, 0, 32_768));
    s.stop.forEach((stop, i) => {
      if (stop === "") add(`generation.sampling.stop[${i}]`, "must not be empty");
    });
  }
  if (generation) {
    check(() =>
      requireKnownEnum("generation.truncation", generation.truncation, TruncationPolicySchema, {
        allowUnspecified: true,
      }),
    );
  }
  spec.backendConcurrency.forEach((c, i) => {
    check(() => requireRange(`backend_concurrency[${i}].generate`, c.generate, 0, 256));
    check(() => requireRange(`backend_concurrency[${i}].judge`, c.judge, 0, 64));
    check(() => requireRange(`backend_concurrency[${i}].judge_requests_per_call`, c.judgeRequestsPerCall, 0, 256));
  });
  const backends = spec.backendConcurrency.map((c) => c.backend);
  for (const i of duplicates(backends)) {
    add(`backend_concurrency[${i}].backend`, `"${backends[i]}" is listed twice`);
  }
  return problems;
}

/** Checks the spec as the client sent it; throws INVALID_ARGUMENT starting with the first wrong field's path. */
export function validateExperimentSpec(spec: ExperimentSpec | undefined): asserts spec is ExperimentSpec {
  if (!spec) throw invalidArgument("spec", "is required");
  throwSpecProblems(specProblems(spec));
}

/**
 * Checks what needs the dataset files (a spec with defaults, already through validateExperimentSpec): every path is
 * one the gateway may read (dataset-access.ts), and every pool can be filled by the split the run will make.
 * Throws INVALID_ARGUMENT like validateExperimentSpec.
 */
export async function validateExperimentDatasets(spec: ExperimentSpec, access: DatasetAccess): Promise<void> {
  // Nothing is read before every path is known to be one the gateway may read.
  throwSpecProblems(await datasetAccessProblems(spec, access));
  throwSpecProblems(await poolCapacityProblems(spec));
}

function throwSpecProblems([first, ...rest]: SpecProblem[]): void {
  if (!first) return;
  const more = rest.length ? ` (and ${rest.map((p) => `spec.${p.path}: ${p.message}`).join("; ")})` : "";
  throw invalidArgument(`spec.${first.path}`, `${first.message}${more}`);
}

/** The spec with every default filled in, as stored and run. */
export function withDefaults(spec: ExperimentSpec): ExperimentSpec {
  // A copy: create() would hand back the caller's own message and the defaults would be written into it.
  const full = clone(ExperimentSpecSchema, create(ExperimentSpecSchema, spec));
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
  // Logprob weighting reads one deterministic distribution per prompt: one repeat, not ten copies of it.
  judge.repeats ||= judge.mode === ScoringMode.LOGPROB_WEIGHTED ? 1 : 10;
  full.judge = judge;
  if (full.criteria.length === 0) full.criteria = [...DEFAULT_CRITERIA];
  const generation = create(GenerationSettingsSchema, full.generation ?? {});
  const sampling = create(SamplingParamsSchema, generation.sampling ?? {});
  sampling.maxTokens ||= DEFAULT_MAX_TOKENS;
  sampling.seed ||= full.seed;
  generation.sampling = sampling;
  full.generation = generation;
  return full;
}

/** How many calls to keep in flight to a backend: the spec's entry for it, else the defaults. */
export function backendConcurrency(
  spec: ExperimentSpec,
  backend: string,
): Pick<BackendConcurrency, "generate" | "judge" | "judgeRequestsPerCall"> {
  const entry = spec.backendConcurrency.find((c) => c.backend === backend);
  return {
    generate: entry?.generate || DEFAULT_GENERATE_CONCURRENCY,
    judge: entry?.judge || DEFAULT_JUDGE_CONCURRENCY,
    // 0 leaves it to the judge service.
    judgeRequestsPerCall: entry?.judgeRequestsPerCall ?? 0,
  };
}

/** Cells of the grid: one base cell per dataset × model, plus one per size > 0 × method × hyperparameter set. */
export function countCells(spec: ExperimentSpec): number {
  const tuned = spec.finetuneSizes.filter((s) => s > 0).length * spec.methods.length * spec.hyperparameters.length;
  const base = spec.finetuneSizes.includes(0) ? 1 : 0;
  return spec.datasets.length * spec.baseModels.length * (base + tuned);
}
