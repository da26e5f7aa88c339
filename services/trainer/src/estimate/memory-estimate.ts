/**
 * Peak GPU memory of a LoRA/QLoRA fine-tune, so the scheduler places jobs by memory rather than by GPU count.
 * Terms: frozen base weights (16-bit, or NF4 4-bit with double quantisation for QLoRA, embeddings and head kept
 * 16-bit), LoRA weights with gradients and Adam state in fp32, activations with gradient checkpointing (one
 * stored input per layer plus one layer recomputed, attention through SDPA/flash so no s² term), the logits and
 * their fp32 loss copies, and a fixed CUDA context plus allocator slack.
 */
import { FineTuneMethod } from "@ragtune/contracts/common";
import { lookupModelShape, type ModelShape } from "./model-catalog.js";

export const GIB = 1024 ** 3;
/** CUDA context, cuBLAS workspaces and kernels. */
const CUDA_CONTEXT_BYTES = 1 * GIB;
/** Allocator fragmentation and transient buffers, as a share of the rest. */
const SLACK_FRACTION = 0.1;
/** NF4 with double quantisation: 4 bits + 8-bit absmax per 64 + fp32 per 256 absmax ≈ 4.127 bits. */
const NF4_BYTES_PER_PARAM = 4.127 / 8;
/** fp32 weight + fp32 gradient + Adam's two fp32 moments. */
const LORA_BYTES_PER_PARAM = 16;
/** Per token and layer, 16-bit, without the s² attention term (Korthikanti et al. 2022 with SDPA). */
const LAYER_ACTIVATION_FACTOR = 34;
/** bf16 logits, their fp32 upcast for the loss and its gradient. */
const LOGIT_BYTES = 2 + 4 + 4;
/** Host memory a CPU-side job (reader training, hosted API client) is allowed. */
export const CPU_JOB_HOST_BYTES = 512 * 1024 ** 2;

/** PEFT's default target modules for llama/mistral architectures. */
export const DEFAULT_TARGET_MODULES = ["q_proj", "v_proj"];

export interface MemoryEstimateInput {
  baseModel: string;
  method: FineTuneMethod;
  loraRank: number;
  targetModules: string[];
  maxSeqLength: number;
  microBatchSize: number;
}

export interface MemoryEstimate {
  totalBytes: number;
  weightsBytes: number;
  loraBytes: number;
  loraParameters: number;
  activationBytes: number;
  logitsBytes: number;
  overheadBytes: number;
  shape: ModelShape;
}

/** [in, out] features of a llama-style projection. */
function projectionSize(shape: ModelShape, module: string): [number, number] {
  const kvWidth = (shape.hidden / shape.heads) * shape.kvHeads;
  switch (module) {
    case "k_proj":
    case "v_proj":
      return [shape.hidden, kvWidth];
    case "gate_proj":
    case "up_proj":
      return [shape.hidden, shape.intermediate];
    case "down_proj":
      return [shape.intermediate, shape.hidden];
    default:
      return [shape.hidden, shape.hidden];
  }
}

const ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

/** undefined when the model's size is unknown (the caller decides whether that is an error). */
export function estimateTrainingMemory(input: MemoryEstimateInput): MemoryEstimate | undefined {
  const shape = lookupModelShape(input.baseModel);
  if (!shape) return undefined;
  const modules = input.targetModules.length ? input.targetModules : DEFAULT_TARGET_MODULES;
  const expanded = modules.includes("all-linear") ? ALL_LINEAR : modules;

  const embeddingParams = 2 * shape.vocab * shape.hidden;
  const linearParams = Math.max(0, shape.parameters - embeddingParams);
  const weightsBytes =
    input.method === FineTuneMethod.QLORA
      ? linearParams * NF4_BYTES_PER_PARAM + embeddingParams * 2
      : shape.parameters * 2;

  const loraParameters =
    shape.layers *
    expanded.reduce((sum, module) => {
      const [inFeatures, outFeatures] = projectionSize(shape, module);
      return sum + input.loraRank * (inFeatures + outFeatures);
    }, 0);
  const loraBytes = loraParameters * LORA_BYTES_PER_PARAM;

  const tokens = input.maxSeqLength * input.microBatchSize;
  const activationBytes = shape.layers * tokens * shape.hidden * 2 + LAYER_ACTIVATION_FACTOR * tokens * shape.hidden;
  const logitsBytes = tokens * shape.vocab * LOGIT_BYTES;

  const subtotal = weightsBytes + loraBytes + activationBytes + logitsBytes;
  const overheadBytes = CUDA_CONTEXT_BYTES + subtotal * SLACK_FRACTION;
  return {
    totalBytes: Math.ceil(subtotal + overheadBytes),
    weightsBytes,
    loraBytes,
    loraParameters,
    activationBytes,
    logitsBytes,
    overheadBytes,
    shape,
  };
}

export function formatBytes(bytes: number): string {
  return `${(bytes / GIB).toFixed(1)} GiB`;
}
