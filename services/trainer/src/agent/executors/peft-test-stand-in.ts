/**
 * TEST STAND-IN for the `peft` executor, for end-to-end tests on machines without a GPU: it trains nothing. It
 * takes `peft` jobs (the name the scheduler routes LoRA jobs by) and writes an adapter folder in PEFT's layout,
 * `adapter_config.json` and an `adapter_model.safetensors` of zero LoRA weights, so everything after training
 * (archive, upload, the generator unpacking it for vLLM, run-time loading) runs as it would. Every file it writes
 * says it is a stand-in. The agent selects it only when NODE_ENV=test and AGENT_PEFT_TEST_STAND_IN=1, and then
 * reports one pretend GPU so the scheduler places LoRA jobs on it; outside tests asking for it is refused.
 */
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { FailureClass, type Gpu, GpuSchema } from "@ragtune/contracts/trainer";
import { estimateTrainingTokens } from "@ragtune/datasets";
import { ConfigError } from "@ragtune/runtime";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Executor, type ExecutorContext, ExecutorFailure } from "./executor.js";

export const PEFT_TEST_STAND_IN_ENV = "AGENT_PEFT_TEST_STAND_IN";
/**
 * Simulations only: JSON {"lora": tokens/s, "qlora": tokens/s} in real (wall-clock) seconds. The stand-in then
 * holds its pretend GPU for the pool's tokens × epochs / that rate, as a GPU would be held for training.
 */
export const PEFT_TEST_STAND_IN_PACE_ENV = "AGENT_PEFT_TEST_STAND_IN_PACE";
/**
 * Simulations only: the URL of a modelled GPU that this stand-in's pretend GPU shares with other work (the
 * protocol simulation's serving GPUs). Training is then timed by it instead of by timers: each piece of work is
 * POSTed as {"seconds": s}, s being the piece's real seconds at the pace above on a GPU of its own, and the answer
 * comes when the modelled GPU has done it beside its other work.
 */
export const PEFT_TEST_STAND_IN_GPU_URL_ENV = "AGENT_PEFT_TEST_STAND_IN_GPU_URL";
/** Simulations only: GiB the pretend GPU reports free (80, all of it, by default; less when something shares it). */
export const PEFT_TEST_STAND_IN_GPU_FREE_GIB_ENV = "AGENT_PEFT_TEST_STAND_IN_GPU_FREE_GIB";
/** Work asked of a shared GPU at a time: long enough that one request's own time is lost in it (real s). */
const SHARED_GPU_PIECE_SECONDS = 0.25;
const PRETEND_GPU_GIB = 80;

export interface StandInPace {
  lora: number;
  qlora: number;
}

function holdFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error("cancelled"));
    const timer = setTimeout(resolve, ms);
    const cancel = () => {
      clearTimeout(timer);
      reject(new Error("cancelled"));
    };
    signal.addEventListener("abort", cancel, { once: true });
  });
}
const GIB = 1024 ** 3;
/** Width of the pretend model's layers the zero LoRA matrices are shaped for. */
const HIDDEN = 64;

/** A safetensors file: 8-byte little-endian header length, JSON header, then the tensors' bytes (F32 zeros). */
export function zeroSafetensors(tensors: Record<string, number[]>, metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, shape] of Object.entries(tensors)) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // The format pads the header with spaces so the data starts 8-byte aligned.
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([length, Buffer.from(json), Buffer.alloc(offset)]);
}

/** Runs the steps on the stand-in's own pretend GPU, each `stepMs` long, reporting progress after each. */
async function trainOnOwnGpu(steps: number, stepMs: number, ctx: ExecutorContext) {
  // Each step ends at its time from the start, not stepMs after the previous one ended: timers that fire
  // late and the progress reports' own time would otherwise add up over hundreds of steps (a sped-up
  // simulation held its GPUs several times the modelled training time on a busy machine).
  const started = performance.now();
  for (let step = 1; step <= steps; step++) {
    if (ctx.signal.aborted) throw new Error("cancelled");
    if (stepMs > 0) await holdFor(Math.max(0, started + step * stepMs - performance.now()), ctx.signal);
    ctx.onProgress({ step: BigInt(step), totalSteps: BigInt(steps), loss: 0 });
  }
}

/**
 * Runs the steps on the modelled GPU at `url`, which times them beside its other work: they go to it in pieces of
 * about SHARED_GPU_PIECE_SECONDS ({"seconds": the piece's real seconds on a GPU of its own}), the answer coming
 * when the piece is done; progress is reported after each piece.
 */
async function trainOnSharedGpu(url: string, steps: number, stepMs: number, ctx: ExecutorContext) {
  const perPiece = Math.max(1, Math.floor((SHARED_GPU_PIECE_SECONDS * 1000) / stepMs));
  for (let step = 0; step < steps; ) {
    if (ctx.signal.aborted) throw new Error("cancelled");
    const count = Math.min(perPiece, steps - step);
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ seconds: (count * stepMs) / 1000 }),
      signal: ctx.signal,
    });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`the shared GPU at ${url} answered ${response.status}`);
    step += count;
    ctx.onProgress({ step: BigInt(step), totalSteps: BigInt(steps), loss: 0 });
  }
}

export function createPeftTestStandInExecutor(pace?: StandInPace, gpuUrl?: string): Executor {
  return {
    name: "peft",
    async run(ctx: ExecutorContext) {
      const spec = ctx.job.spec;
      if (!spec) throw new ExecutorFailure(FailureClass.USER_ERROR, "the job has no spec");
      if (ctx.pairs.length === 0) throw new ExecutorFailure(FailureClass.USER_ERROR, "the training pool is empty");
      const rank = spec.loraRank || 8;
      const modules = spec.targetModules.length ? spec.targetModules : ["q_proj", "v_proj"];
      const steps = Math.max(1, Math.ceil(ctx.pairs.length / Math.max(1, spec.microBatchSize))) * spec.epochs;
      const tokensPerSecond = pace && (spec.method === FineTuneMethod.QLORA ? pace.qlora : pace.lora);
      const trainTokens = tokensPerSecond ? estimateTrainingTokens(ctx.pairs) * spec.epochs : 0;
      const stepMs = tokensPerSecond ? (trainTokens / tokensPerSecond / steps) * 1000 : 0;
      if (gpuUrl && stepMs > 0) await trainOnSharedGpu(gpuUrl, steps, stepMs, ctx);
      else await trainOnOwnGpu(steps, stepMs, ctx);
      const config = {
        ragtune_test_stand_in: "written by the agent's PEFT test stand-in: no training ran, the weights are zeros",
        base_model_name_or_path: spec.baseModel,
        peft_type: "LORA",
        task_type: "CAUSAL_LM",
        inference_mode: true,
        r: rank,
        lora_alpha: spec.loraAlpha || 2 * rank,
        lora_dropout: spec.loraDropout,
        target_modules: modules,
        bias: "none",
      };
      const tensors: Record<string, number[]> = {};
      for (const module of modules) {
        const prefix = `base_model.model.model.layers.0.self_attn.${module}`;
        tensors[`${prefix}.lora_A.weight`] = [rank, HIDDEN];
        tensors[`${prefix}.lora_B.weight`] = [HIDDEN, rank];
      }
      await writeFile(join(ctx.adapterDir, "adapter_config.json"), `${JSON.stringify(config, null, 2)}\n`);
      await writeFile(
        join(ctx.adapterDir, "adapter_model.safetensors"),
        zeroSafetensors(tensors, { format: "pt", ragtune_test_stand_in: "true" }),
      );
      return {
        metrics: { test_stand_in: 1, train_pairs: ctx.pairs.length, train_steps: steps, train_tokens: trainTokens },
      };
    },
  };
}

/**
 * The stand-in and its pretend GPU when the environment asks for it in a test; undefined when it does not ask.
 * Asking outside NODE_ENV=test throws, so a deployment can never train with it by accident.
 */
export function peftTestStandInFromEnv(
  env: Record<string, string | undefined>,
): { executor: Executor; gpus: Gpu[] } | undefined {
  const asked = env[PEFT_TEST_STAND_IN_ENV];
  if (!asked || asked === "0") return undefined;
  if (env.NODE_ENV !== "test") {
    throw new ConfigError(PEFT_TEST_STAND_IN_ENV, "is honoured only when NODE_ENV=test: the stand-in trains nothing");
  }
  const freeGib = Number(env[PEFT_TEST_STAND_IN_GPU_FREE_GIB_ENV] ?? PRETEND_GPU_GIB);
  if (!(freeGib > 0 && freeGib <= PRETEND_GPU_GIB)) {
    throw new ConfigError(PEFT_TEST_STAND_IN_GPU_FREE_GIB_ENV, `must be a number of GiB in (0, ${PRETEND_GPU_GIB}]`);
  }
  const gpu = create(GpuSchema, {
    index: 0,
    name: "test stand-in (no GPU)",
    memoryTotalBytes: BigInt(PRETEND_GPU_GIB * GIB),
    memoryFreeBytes: BigInt(Math.floor(freeGib * GIB)),
  });
  const paceJson = env[PEFT_TEST_STAND_IN_PACE_ENV];
  let pace: StandInPace | undefined;
  if (paceJson) {
    pace = JSON.parse(paceJson) as StandInPace;
    if (!(pace.lora > 0 && pace.qlora > 0)) {
      throw new ConfigError(PEFT_TEST_STAND_IN_PACE_ENV, 'must be {"lora": tokens/s, "qlora": tokens/s}, both > 0');
    }
  }
  const gpuUrl = env[PEFT_TEST_STAND_IN_GPU_URL_ENV] || undefined;
  if (gpuUrl && !URL.canParse(gpuUrl)) throw new ConfigError(PEFT_TEST_STAND_IN_GPU_URL_ENV, "must be a URL");
  return { executor: createPeftTestStandInExecutor(pace, gpuUrl), gpus: [gpu] };
}
