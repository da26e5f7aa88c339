/**
 * Runs python/peft_runner.py (transformers + peft; QLoRA through bitsandbytes) on the job's GPU. The prompts are
 * rendered here with the generator's RAG template, so training sees exactly what serving will send.
 */
import { renderRagTrainingExample } from "@ragtune/prompt";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { FailureClass, type JobSpec, LearningRateSchedule } from "@ragtune/contracts/trainer";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { TrainingPair } from "../training-pairs.js";
import { type Executor, type ExecutorContext, ExecutorFailure } from "./executor.js";

export const PEFT_RUNNER_PATH = resolve(dirname(fileURLToPath(import.meta.url)), "../../../python/peft_runner.py");

const SCHEDULES: Record<number, string> = {
  [LearningRateSchedule.CONSTANT]: "constant",
  [LearningRateSchedule.LINEAR]: "linear",
  [LearningRateSchedule.COSINE]: "cosine",
};

/** Command-line arguments of the runner for a spec (defaults already applied). */
export function buildPeftArgs(spec: JobSpec, paths: { data: string; output: string }): string[] {
  return [
    "--data",
    paths.data,
    "--output",
    paths.output,
    "--base-model",
    spec.baseModel,
    "--method",
    spec.method === FineTuneMethod.QLORA ? "qlora" : "lora",
    "--epochs",
    String(spec.epochs),
    "--micro-batch-size",
    String(spec.microBatchSize),
    "--gradient-accumulation-steps",
    String(spec.gradientAccumulationSteps),
    "--learning-rate",
    String(spec.learningRate),
    "--lr-schedule",
    SCHEDULES[spec.learningRateSchedule] ?? "linear",
    "--warmup-steps",
    String(spec.warmupSteps),
    "--lora-rank",
    String(spec.loraRank),
    "--lora-alpha",
    String(spec.loraAlpha),
    "--lora-dropout",
    String(spec.loraDropout),
    "--target-modules",
    spec.targetModules.length ? spec.targetModules.join(",") : "q_proj,v_proj",
    "--max-seq-length",
    String(spec.maxSeqLength),
    "--seed",
    String(spec.seed),
  ];
}

/** JSONL of {prompt, completion} in the generator's RAG template. */
export function renderTrainingJsonl(pairs: TrainingPair[]): string {
  return pairs
    .map((pair) => {
      const example = renderRagTrainingExample({
        question: pair.question,
        contexts: pair.contexts.map((c) => ({ text: c.text, sourceId: c.sourceId })),
        answer: pair.answer,
      });
      return JSON.stringify({ prompt: example.prompt, completion: example.completion });
    })
    .join("\n")
    .concat("\n");
}

const FAILURE_CLASSES: Record<string, FailureClass> = {
  out_of_memory: FailureClass.OUT_OF_MEMORY,
  user_error: FailureClass.USER_ERROR,
  transient: FailureClass.TRANSIENT,
};

export interface PeftExecutorOptions {
  python?: string;
  runnerPath?: string;
}

export function createPeftExecutor(options: PeftExecutorOptions = {}): Executor {
  return {
    name: "peft",
    async run(ctx: ExecutorContext) {
      const spec = ctx.job.spec;
      if (!spec) throw new ExecutorFailure(FailureClass.USER_ERROR, "the job has no spec");
      const data = join(ctx.workDir, "train.jsonl");
      await writeFile(data, renderTrainingJsonl(ctx.pairs));
      const args = [options.runnerPath ?? PEFT_RUNNER_PATH, ...buildPeftArgs(spec, { data, output: ctx.adapterDir })];
      const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: "1" };
      if (ctx.gpuIndex !== undefined) env.CUDA_VISIBLE_DEVICES = String(ctx.gpuIndex);
      const child = spawn(options.python ?? "python3", args, { env, stdio: ["ignore", "pipe", "pipe"] });
      const stop = () => child.kill("SIGTERM");
      ctx.signal.addEventListener("abort", stop, { once: true });

      let metrics: Record<string, number> = {};
      let failure: { class: string; message: string } | undefined;
      let stderr = "";
      child.stderr.on("data", (chunk) => {
        stderr = (stderr + chunk).slice(-4000);
      });
      const lines = createInterface({ input: child.stdout });
      lines.on("line", (line) => {
        let event: Record<string, unknown>;
        try {
          event = JSON.parse(line);
        } catch {
          return; // library chatter on stdout
        }
        if (event.event === "progress") {
          ctx.onProgress({
            step: BigInt(Number(event.step ?? 0)),
            totalSteps: BigInt(Number(event.total_steps ?? 0)),
            epoch: Number(event.epoch ?? 0),
            loss: Number(event.loss ?? 0),
            learningRate: Number(event.learning_rate ?? 0),
            tokensPerSecond: Number(event.tokens_per_second ?? 0),
            etaSeconds: Number(event.eta_seconds ?? 0),
          });
        } else if (event.event === "done") {
          metrics = Object.fromEntries(
            Object.entries((event.metrics as Record<string, unknown>) ?? {}).filter(([, v]) => typeof v === "number"),
          ) as Record<string, number>;
        } else if (event.event === "error") {
          failure = { class: String(event.class), message: String(event.message) };
        }
      });
      const code = await new Promise<number | null>((resolveExit, reject) => {
        child.once("error", reject);
        child.once("close", resolveExit);
      }).catch((error: Error) => {
        throw new ExecutorFailure(
          FailureClass.TRANSIENT,
          `cannot start ${options.python ?? "python3"}: ${error.message}`,
        );
      });
      ctx.signal.removeEventListener("abort", stop);
      if (code === 0) return { metrics };
      if (ctx.signal.aborted) throw new Error("cancelled");
      const failureClass = failure
        ? (FAILURE_CLASSES[failure.class] ?? FailureClass.TRANSIENT)
        : FailureClass.TRANSIENT;
      throw new ExecutorFailure(failureClass, failure?.message ?? `runner exited with ${code}: ${stderr.trim()}`);
    },
  };
}
