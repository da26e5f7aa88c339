/**
 * Admission of a new job: what the request alone cannot show is checked here, before anything is stored. The
 * model's size must be known (GPU memory is estimated from it), the pool must hold the pairs the spec asks for,
 * and some registered GPU must hold the estimate; then the job is built QUEUED, carrying the submitter's trace.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { TrainingDataRef } from "@ragtune/contracts/common";
import { type Job, type JobSpec, JobSchema, JobState, type SubmitJobRequest } from "@ragtune/contracts/trainer";
import { ManifestAccessError, ManifestError } from "@ragtune/datasets";
import { failedPrecondition, injectTraceContext, invalidArgument, type Logger } from "@ragtune/runtime";
import { CPU_JOB_HOST_BYTES, estimateTrainingMemory, formatBytes } from "../estimate/memory-estimate.js";
import { effectiveBatchSize, needsGpu, resolveExecutor } from "../spec/job-spec.js";
import { validateAgainstPoolSize } from "../validation.js";
import type { NodeRegistry } from "./node-registry.js";

const DEFAULT_MAX_ATTEMPTS = 3;

export interface AdmissionParts {
  nodes: Pick<NodeRegistry, "largestGpuFor">;
  /** Size of a training pool, read from its manifest; undefined when it cannot be read here. */
  poolSize?: (ref: TrainingDataRef) => Promise<number | undefined>;
  logger?: Logger;
}

/** The QUEUED job for a validated request whose spec has its defaults; INVALID_ARGUMENT / FAILED_PRECONDITION. */
export async function admitJob(
  parts: AdmissionParts,
  request: SubmitJobRequest,
  spec: JobSpec,
  nowMs: number,
): Promise<Job> {
  const executor = resolveExecutor(spec);
  const estimatedBytes = needsGpu(executor) ? estimateGpuBytes(spec) : CPU_JOB_HOST_BYTES;
  if (spec.trainingData && parts.poolSize) {
    let poolSize: number | undefined;
    try {
      poolSize = await parts.poolSize(spec.trainingData);
    } catch (error) {
      if (error instanceof ManifestAccessError) throw invalidArgument("spec.training_data.manifest_uri", error.message);
      if (error instanceof ManifestError) throw invalidArgument("spec.training_data", error.message);
      // Only a manifest that was read and is wrong refuses the job; one this process cannot read (a path only
      // the agents see, the Object Store down) is left to the agent that trains on it.
      parts.logger?.warn("manifest not readable at submission", { error: String(error) });
    }
    if (poolSize !== undefined) validateAgainstPoolSize(spec, poolSize);
  }
  if (needsGpu(executor)) checkSomeGpuFits(parts.nodes, estimatedBytes, spec.baseModel);

  const job = create(JobSchema, {
    jobId: request.jobId,
    spec,
    priority: request.priority,
    state: JobState.QUEUED,
    maxAttempts: request.maxAttempts || DEFAULT_MAX_ATTEMPTS,
    estimatedMemoryBytes: BigInt(estimatedBytes),
    effectiveBatchSize: effectiveBatchSize(spec),
    createTime: timestampFromMs(nowMs),
  });
  // The submitter's trace travels with the job, so the agent's training joins it across the queue.
  injectTraceContext((key, value) => {
    job.traceContext[key] = value;
  });
  return job;
}

function estimateGpuBytes(spec: JobSpec): number {
  const estimate = estimateTrainingMemory({
    baseModel: spec.baseModel,
    method: spec.method,
    loraRank: spec.loraRank,
    targetModules: spec.targetModules,
    maxSeqLength: spec.maxSeqLength,
    microBatchSize: spec.microBatchSize,
  });
  if (!estimate) {
    throw invalidArgument(
      "spec.base_model",
      `cannot tell the size of "${spec.baseModel}"; use a known model id or a name that states it (e.g. "-7b")`,
    );
  }
  return estimate.totalBytes;
}

/** FAILED_PRECONDITION when GPU nodes are registered and none has a GPU that holds the estimate. */
function checkSomeGpuFits(nodes: AdmissionParts["nodes"], estimatedBytes: number, baseModel: string) {
  const largest = nodes.largestGpuFor("peft");
  // With no GPU node registered yet the job waits for one; agents may start after the submitter.
  if (!largest || Number(largest.gpu.memoryTotalBytes) >= estimatedBytes) return;
  throw failedPrecondition(
    `job needs an estimated ${formatBytes(estimatedBytes)} of GPU memory for ${baseModel}, but the largest ` +
      `registered GPU has ${formatBytes(Number(largest.gpu.memoryTotalBytes))} (GPU ${largest.gpu.index}` +
      `${largest.gpu.name ? ` "${largest.gpu.name}"` : ""} on node ${largest.nodeId})`,
  );
}
