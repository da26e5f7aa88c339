/**
 * Every request check of the trainer in one place, as data: a field path and a rule that returns why a value is
 * wrong. Checks run on the spec after defaults, so "0 = default" fields are already filled.
 */
import { FineTuneMethod } from "@ragtune/contracts/common";
import {
  type AcquireJobRequest,
  FailureClass,
  type JobSpec,
  JobState,
  type ListJobsRequest,
  type RegisterNodeRequest,
  type ReportJobRequest,
  type SubmitJobRequest,
} from "@ragtune/contracts/trainer";
import { invalidArgument } from "@ragtune/runtime";
import { effectiveBatchSize, isExecutorName, resolveExecutor } from "./spec/job-spec.js";

interface Rule<T> {
  field: string;
  check: (value: T) => string | undefined;
}

// Ids name KV keys, objects and folders: no "." or ".." (they start with a letter or digit), no "/" or wildcard.
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function inRange(value: number, min: number, max: number): string | undefined {
  return value >= min && value <= max && Number.isFinite(value) ? undefined : `must be ${min}..${max}, got ${value}`;
}

export function checkId(value: string): string | undefined {
  return ID_PATTERN.test(value)
    ? undefined
    : "must be 1..128 characters of [A-Za-z0-9._-], starting with a letter or digit";
}

const specRules: Rule<JobSpec>[] = [
  { field: "spec.base_model", check: (s) => (s.baseModel.trim() ? undefined : "is required") },
  {
    field: "spec.executor",
    check: (s) => (!s.executor || isExecutorName(s.executor) ? undefined : "must be peft, cpu-reader or openai"),
  },
  {
    field: "spec.method",
    check: (s) =>
      resolveExecutor(s) === "peft" && s.method !== FineTuneMethod.LORA && s.method !== FineTuneMethod.QLORA
        ? "must be LORA or QLORA for a PEFT job"
        : undefined,
  },
  { field: "spec.training_data.manifest_uri", check: (s) => (s.trainingData?.manifestUri ? undefined : "is required") },
  { field: "spec.training_data.pool", check: (s) => (s.trainingData?.pool ? undefined : "is required") },
  {
    // The split holds "eval" out of fine-tuning: training on it would grade a model on the questions it learnt.
    field: "spec.training_data.pool",
    check: (s) =>
      s.trainingData?.pool === "eval" ? 'is "eval", the held-out evaluation pool; name a fine-tuning pool' : undefined,
  },
  {
    field: "spec.training_data.manifest_sha256",
    check: (s) =>
      !s.trainingData?.manifestSha256 || /^[0-9a-fA-F]{64}$/.test(s.trainingData.manifestSha256)
        ? undefined
        : "must be 64 hex digits",
  },
  { field: "spec.epochs", check: (s) => inRange(s.epochs, 1, 100) },
  { field: "spec.micro_batch_size", check: (s) => inRange(s.microBatchSize, 1, 1024) },
  { field: "spec.gradient_accumulation_steps", check: (s) => inRange(s.gradientAccumulationSteps, 1, 1024) },
  {
    field: "spec.learning_rate",
    check: (s) => (s.learningRate > 0 && s.learningRate <= 1 ? undefined : `must be in (0, 1], got ${s.learningRate}`),
  },
  { field: "spec.lora_rank", check: (s) => inRange(s.loraRank, 1, 1024) },
  {
    field: "spec.lora_alpha",
    check: (s) => (s.loraAlpha > 0 && Number.isFinite(s.loraAlpha) ? undefined : `must be > 0, got ${s.loraAlpha}`),
  },
  {
    field: "spec.lora_dropout",
    check: (s) => (s.loraDropout >= 0 && s.loraDropout < 1 ? undefined : `must be in [0, 1), got ${s.loraDropout}`),
  },
  { field: "spec.max_seq_length", check: (s) => inRange(s.maxSeqLength, 16, 131072) },
  {
    field: "spec.target_modules",
    check: (s) => (s.targetModules.every((m) => /^[A-Za-z0-9_.*-]+$/.test(m)) ? undefined : "has an invalid name"),
  },
];

const submitRules: Rule<SubmitJobRequest>[] = [
  { field: "job_id", check: (r) => checkId(r.jobId) },
  { field: "spec", check: (r) => (r.spec ? undefined : "is required") },
  { field: "max_attempts", check: (r) => (r.maxAttempts === 0 ? undefined : inRange(r.maxAttempts, 1, 10)) },
];

function firstViolation<T>(rules: Rule<T>[], value: T, prefix = "") {
  for (const rule of rules) {
    const reason = rule.check(value);
    if (reason) throw invalidArgument(prefix + rule.field, reason);
  }
}

/** Throws INVALID_ARGUMENT for the first bad field; `spec` must already carry its defaults. */
export function validateSubmit(request: SubmitJobRequest, spec: JobSpec): void {
  firstViolation(submitRules, request);
  firstViolation(specRules, spec);
  validateAgainstPoolSize(spec, spec.trainingData?.size ?? 0);
}

/**
 * Checks sizes against the pool: the declared size must not exceed the pool, and one optimizer step must not need
 * more pairs than there are. `poolSize` 0 means unknown.
 */
export function validateAgainstPoolSize(spec: JobSpec, poolSize: number, declaredSize = spec.trainingData?.size ?? 0) {
  if (poolSize > 0 && declaredSize > poolSize) {
    throw invalidArgument(
      "spec.training_data.size",
      `${declaredSize} is larger than pool "${spec.trainingData?.pool}" (${poolSize} pairs)`,
    );
  }
  const size = declaredSize || poolSize;
  const batch = effectiveBatchSize(spec);
  if (size > 0 && batch > size) {
    throw invalidArgument(
      "spec.gradient_accumulation_steps",
      `effective batch ${batch} (micro_batch_size ${spec.microBatchSize} × gradient_accumulation_steps ${spec.gradientAccumulationSteps}) is larger than the pool of ${size} pairs`,
    );
  }
}

export function validateRegister(request: RegisterNodeRequest): void {
  firstViolation<RegisterNodeRequest>(
    [
      { field: "node", check: (r) => (r.node ? undefined : "is required") },
      { field: "node.node_id", check: (r) => checkId(r.node?.nodeId ?? "") },
      {
        field: "node.executors",
        check: (r) =>
          r.node?.executors.length && r.node.executors.every(isExecutorName)
            ? undefined
            : "must list one or more of peft, cpu-reader, openai",
      },
    ],
    request,
  );
}

export function validateAcquire(request: AcquireJobRequest): void {
  firstViolation<AcquireJobRequest>(
    [
      { field: "node_id", check: (r) => checkId(r.nodeId) },
      { field: "wait_seconds", check: (r) => inRange(r.waitSeconds, 0, 60) },
    ],
    request,
  );
}

/** An enum value the proto defines (an unknown number from another client's newer proto is refused, not ignored). */
const defined = (values: object, value: number) => (values as Record<number, unknown>)[value] !== undefined;

export function validateListJobs(request: ListJobsRequest): void {
  request.states.forEach((state, i) => {
    if (!defined(JobState, state)) throw invalidArgument(`states[${i}]`, `${state} is not a job state`);
  });
  firstViolation<ListJobsRequest>(
    [
      { field: "page_size", check: (r) => (r.pageSize === 0 ? undefined : inRange(r.pageSize, 1, 1000)) },
      { field: "page_token", check: (r) => (!r.pageToken || /^\d+$/.test(r.pageToken) ? undefined : "is not valid") },
    ],
    request,
  );
}

/** A node's report, checked before the job is looked up, so a malformed one is refused whatever the job. */
export function validateReportJob(request: ReportJobRequest): void {
  if (request.report.case === undefined) throw invalidArgument("report", "is required (progress, succeeded or failed)");
  if (request.report.case === "succeeded" && !request.report.value.uri) {
    throw invalidArgument("succeeded.uri", "is required");
  }
  if (request.report.case === "failed" && !defined(FailureClass, request.report.value.failureClass)) {
    throw invalidArgument("failed.failure_class", `${request.report.value.failureClass} is not a failure class`);
  }
}
