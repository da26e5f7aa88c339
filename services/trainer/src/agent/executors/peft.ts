/**
 * Runs python/peft_runner.py (transformers + peft; QLoRA through bitsandbytes) on the job's GPU. Each example is
 * what the generator sends to /chat/completions for the item: the same chat messages (@ragtune/prompt's RAG
 * template, folded for models without a system role), fitted to max_seq_length by the same truncation rule, and
 * the runner applies the model's chat template to them as the serving engine does.
 * The runner leads its own process group with an allow-listed environment (process-group.ts): a cancel stops the
 * whole group (SIGTERM, then SIGKILL after the grace period) and the executor returns only once it is gone, which
 * is when the agent stops listing the job and the trainer hands its GPU on.
 */
import { type ChatMessage, chatMessagesForModel, fitRagPrompt } from "@ragtune/prompt";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { FailureClass, type JobSpec, LearningRateSchedule } from "@ragtune/contracts/trainer";
import type { ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { TrainingPair } from "../training-pairs.js";
import { type Executor, type ExecutorContext, ExecutorFailure, userError } from "./executor.js";
import { childEnvironment, spawnGroupLeader, stopProcessGroup } from "./process-group.js";
import { runnerFailureClass, startTokenCounter, type TokenCounter } from "./token-counter.js";

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

/** One line of the runner's data: the serving request's messages and the answer the loss is taken on. */
export interface PeftExample {
  id: string;
  messages: ChatMessage[];
  completion: string;
  /** What the truncation rule cut to fit max_seq_length; absent when nothing was. */
  truncation?: string;
}

export interface PeftExampleOptions {
  /** The job's base model: serving folds the system text for some families (chatMessagesForModel). */
  baseModel: string;
  /** Prompt, answer and EOS together, unit {token}. */
  maxSeqLength: number;
  /** The base model's tokenizer and chat template (the runner's --count-tokens). */
  counter: TokenCounter;
}

/**
 * The fine-tuning examples of a job. A prompt too long for max_seq_length once the answer and EOS are reserved is
 * fitted by the generator's rule (lowest-ranked contexts first, then the last kept one shortened), never by
 * cutting the instructions at its start.
 */
export async function buildPeftExamples(pairs: TrainingPair[], options: PeftExampleOptions): Promise<PeftExample[]> {
  const examples: PeftExample[] = [];
  for (const pair of pairs) {
    const completion = pair.answer.trim();
    const answerTokens = (await options.counter.countText(completion)) + 1; // + EOS
    const fitted = await fitRagPrompt({
      question: pair.question,
      contexts: pair.contexts.map((c) => ({ text: c.text, sourceId: c.sourceId })),
      budget: options.maxSeqLength - answerTokens,
      countTokens: (prompt) => options.counter.countMessages(chatMessagesForModel(options.baseModel, prompt)),
    });
    if (!fitted.fits) {
      throw userError(
        `training pair ${pair.id}: its question and answer (${answerTokens} tokens with EOS) do not fit max_seq_length ${options.maxSeqLength} even without contexts`,
      );
    }
    const example: PeftExample = {
      id: pair.id,
      messages: chatMessagesForModel(options.baseModel, fitted.prompt),
      completion,
    };
    if (fitted.truncated) example.truncation = fitted.note;
    examples.push(example);
  }
  return examples;
}

/** JSONL of {id, messages, completion[, truncation]} for the runner. */
export function peftJsonl(examples: readonly PeftExample[]): string {
  return examples
    .map((example) => JSON.stringify(example))
    .join("\n")
    .concat("\n");
}

export async function renderTrainingJsonl(pairs: TrainingPair[], options: PeftExampleOptions): Promise<string> {
  return peftJsonl(await buildPeftExamples(pairs, options));
}

export interface PeftExecutorOptions {
  python?: string;
  runnerPath?: string;
  /** After SIGTERM, how long the runner's process group has before SIGKILL, ms. Default 10000. */
  killGraceMs?: number;
  /** Where the child's allow-listed environment comes from (childEnvironment). Default process.env. */
  environment?: NodeJS.ProcessEnv;
}

/** Progress, final metrics and a classified error, from the runner's JSON lines on stdout. */
function followRunnerOutput(child: ChildProcess, ctx: ExecutorContext) {
  const output = {
    metrics: {} as Record<string, number>,
    failure: undefined as { class: string; message: string } | undefined,
    stderr: "",
  };
  child.stderr?.on("data", (chunk) => {
    output.stderr = (output.stderr + chunk).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
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
      output.metrics = Object.fromEntries(
        Object.entries((event.metrics as Record<string, unknown>) ?? {}).filter(([, v]) => typeof v === "number"),
      ) as Record<string, number>;
    } else if (event.event === "error") {
      output.failure = { class: String(event.class), message: String(event.message) };
    }
  });
  const closed = new Promise<void>((resolve) => lines.once("close", resolve));
  return { output, closed };
}

export function createPeftExecutor(options: PeftExecutorOptions = {}): Executor {
  const graceMs = options.killGraceMs ?? 10_000;
  return {
    name: "peft",
    async run(ctx: ExecutorContext) {
      const spec = ctx.job.spec;
      if (!spec) throw new ExecutorFailure(FailureClass.USER_ERROR, "the job has no spec");
      const data = join(ctx.workDir, "train.jsonl");
      const runner = options.runnerPath ?? PEFT_RUNNER_PATH;
      const python = options.python ?? "python3";
      // An explicit environment: the runner and what it loads never see the agent's token or API keys.
      const env = childEnvironment(options.environment ?? process.env, { PYTHONUNBUFFERED: "1" });
      const counter = startTokenCounter(python, [runner, "--count-tokens", "--base-model", spec.baseModel], env);
      let examples: PeftExample[];
      try {
        examples = await buildPeftExamples(ctx.pairs, {
          baseModel: spec.baseModel,
          maxSeqLength: spec.maxSeqLength,
          counter,
        });
      } finally {
        await counter.close();
      }
      await writeFile(data, peftJsonl(examples));
      const truncated = examples.filter((example) => example.truncation).length;
      const args = [runner, ...buildPeftArgs(spec, { data, output: ctx.adapterDir })];
      if (ctx.gpuIndex !== undefined) env.CUDA_VISIBLE_DEVICES = String(ctx.gpuIndex);
      if (ctx.signal.aborted) throw new Error("cancelled");
      const child = spawnGroupLeader(python, args, env);
      const exited = new Promise<number | null>((resolveExit, reject) => {
        child.once("error", reject);
        child.once("exit", (code) => resolveExit(code));
      });
      const { output, closed } = followRunnerOutput(child, ctx);
      let stopping: Promise<boolean> | undefined;
      const stop = () => {
        if (child.pid !== undefined) stopping ??= stopProcessGroup(child.pid, graceMs);
      };
      ctx.signal.addEventListener("abort", stop, { once: true });
      let code: number | null;
      try {
        code = await exited;
      } catch (error) {
        throw new ExecutorFailure(FailureClass.TRANSIENT, `cannot start ${python}: ${(error as Error).message}`);
      } finally {
        ctx.signal.removeEventListener("abort", stop);
        // The runner is gone, but what it started may not be: the job is over only when its whole group is.
        if (child.pid !== undefined) await (stopping ?? stopProcessGroup(child.pid, graceMs));
        await closed;
      }
      if (ctx.signal.aborted) throw new Error("cancelled");
      if (code === 0) return { metrics: { ...output.metrics, prompts_truncated: truncated } };
      const failureClass = output.failure ? runnerFailureClass(output.failure.class) : FailureClass.TRANSIENT;
      throw new ExecutorFailure(
        failureClass,
        output.failure?.message ?? `runner exited with ${code}: ${output.stderr.trim()}`,
      );
    },
  };
}
