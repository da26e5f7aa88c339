/**
 * Job-spec defaults and derived values. Defaults are applied once, at submission, so the stored spec says exactly
 * what ran and idempotent resubmissions compare like with like.
 */
import { clone, create, equals } from "@bufbuild/protobuf";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { type JobSpec, JobSpecSchema, LearningRateSchedule } from "@ragtune/contracts/trainer";

export const EXECUTORS = ["peft", "cpu-reader", "openai"] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

/** The base-model name of the generator's model-free extractive reader. */
export const EXTRACTIVE_READER_MODEL = "extractive-reader";

export const SPEC_DEFAULTS = {
  epochs: 3,
  microBatchSize: 4,
  gradientAccumulationSteps: 1,
  learningRate: 2e-4,
  loraDropout: 0.05,
  maxSeqLength: 2048,
} as const;

export function isExecutorName(name: string): name is ExecutorName {
  return (EXECUTORS as readonly string[]).includes(name);
}

/** The executor a spec runs on: explicit, or chosen from the base model and method. */
export function resolveExecutor(spec: JobSpec): ExecutorName {
  if (spec.executor && isExecutorName(spec.executor)) return spec.executor;
  if (spec.baseModel === EXTRACTIVE_READER_MODEL) return "cpu-reader";
  if (spec.method === FineTuneMethod.HOSTED) return "openai";
  return "peft";
}

/** Whether the executor needs a GPU (and so a GPU-memory placement). */
export function needsGpu(executor: ExecutorName): boolean {
  return executor === "peft";
}

export function effectiveBatchSize(spec: JobSpec): number {
  return spec.microBatchSize * spec.gradientAccumulationSteps;
}

/** A copy with every unset (zero) field that has a default filled in, and the executor made explicit. */
export function withSpecDefaults(spec: JobSpec | undefined): JobSpec {
  const filled = spec ? clone(JobSpecSchema, spec) : create(JobSpecSchema);
  filled.epochs ||= SPEC_DEFAULTS.epochs;
  filled.microBatchSize ||= SPEC_DEFAULTS.microBatchSize;
  filled.gradientAccumulationSteps ||= SPEC_DEFAULTS.gradientAccumulationSteps;
  filled.learningRate ||= SPEC_DEFAULTS.learningRate;
  filled.maxSeqLength ||= SPEC_DEFAULTS.maxSeqLength;
  if (filled.learningRateSchedule === LearningRateSchedule.UNSPECIFIED) {
    filled.learningRateSchedule = LearningRateSchedule.LINEAR;
  }
  // proto3 cannot tell an unset dropout from 0; the contract documents 0 as "the default".
  filled.loraDropout ||= SPEC_DEFAULTS.loraDropout;
  filled.executor = resolveExecutor(filled);
  return filled;
}

export function sameSpec(a: JobSpec, b: JobSpec): boolean {
  return equals(JobSpecSchema, a, b);
}
