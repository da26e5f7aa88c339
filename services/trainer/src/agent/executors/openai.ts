/**
 * Hosted fine-tuning through the OpenAI-style API: upload the training file (chat format, the generator's RAG
 * template), create the job, follow its status and metric events, and record the fine-tuned model's name as the
 * adapter. Cancelling the ragtune job cancels the hosted one.
 */
import { renderRagTrainingExample } from "@ragtune/prompt";
import { FailureClass } from "@ragtune/contracts/trainer";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TrainingPair } from "../training-pairs.js";
import { type Executor, type ExecutorContext, ExecutorFailure } from "./executor.js";

export const HOSTED_ADAPTER_FILE = "hosted-fine-tune.json";

export interface OpenAiExecutorOptions {
  /** API base URL including /v1, e.g. https://api.openai.com/v1. */
  baseUrl: string;
  apiKey?: string;
  /** Status poll period, ms. Default 10000. */
  pollIntervalMs?: number;
  fetch?: typeof fetch;
}

interface HostedJob {
  id: string;
  status: string;
  fine_tuned_model?: string | null;
  trained_tokens?: number | null;
  error?: { code?: string; message?: string; param?: string } | null;
}

interface HostedEvent {
  id: string;
  type?: string;
  message?: string;
  data?: { step?: number; total_steps?: number; train_loss?: number } | null;
}

/** Chat-format JSONL for the hosted API. */
export function renderChatJsonl(pairs: TrainingPair[]): string {
  return pairs
    .map((pair) =>
      JSON.stringify({
        messages: renderRagTrainingExample({
          question: pair.question,
          contexts: pair.contexts.map((c) => ({ text: c.text, sourceId: c.sourceId })),
          answer: pair.answer,
        }).messages,
      }),
    )
    .join("\n")
    .concat("\n");
}

function classifyStatus(status: number): FailureClass {
  return status === 408 || status === 409 || status === 429 || status >= 500
    ? FailureClass.TRANSIENT
    : FailureClass.USER_ERROR;
}

export function createOpenAiExecutor(options: OpenAiExecutorOptions): Executor {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const headers = (): Record<string, string> => (options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {});

  async function call<T>(method: string, path: string, body?: RequestInit["body"], json = true): Promise<T> {
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers: json && body ? { ...headers(), "content-type": "application/json" } : headers(),
        body,
      });
    } catch (error) {
      throw new ExecutorFailure(FailureClass.TRANSIENT, `${method} ${path}: ${(error as Error).message}`);
    }
    if (!response.ok) {
      const text = (await response.text()).slice(0, 500);
      throw new ExecutorFailure(classifyStatus(response.status), `${method} ${path}: HTTP ${response.status} ${text}`);
    }
    return (await response.json()) as T;
  }

  return {
    name: "openai",
    async run(ctx: ExecutorContext) {
      const spec = ctx.job.spec;
      if (!spec) throw new ExecutorFailure(FailureClass.USER_ERROR, "the job has no spec");
      const form = new FormData();
      form.set("purpose", "fine-tune");
      form.set("file", new Blob([renderChatJsonl(ctx.pairs)], { type: "application/jsonl" }), `${ctx.job.jobId}.jsonl`);
      const file = await call<{ id: string }>("POST", "/files", form, false);

      const created = await call<HostedJob>(
        "POST",
        "/fine_tuning/jobs",
        JSON.stringify({
          model: spec.baseModel,
          training_file: file.id,
          suffix: ctx.job.jobId.slice(0, 40),
          seed: Number(spec.seed),
          hyperparameters: { n_epochs: spec.epochs, batch_size: spec.microBatchSize * spec.gradientAccumulationSteps },
          metadata: { ragtune_job_id: ctx.job.jobId },
        }),
      );
      const cancel = () => void call("POST", `/fine_tuning/jobs/${created.id}/cancel`).catch(() => {});
      ctx.signal.addEventListener("abort", cancel, { once: true });
      try {
        let lastEventId = "";
        let job = created;
        const started = performance.now();
        let lastLoss = Number.NaN;
        for (;;) {
          if (ctx.signal.aborted) throw new Error("cancelled");
          const query = lastEventId ? `?after=${encodeURIComponent(lastEventId)}&limit=100` : "?limit=100";
          const events = await call<{ data: HostedEvent[] }>("GET", `/fine_tuning/jobs/${job.id}/events${query}`);
          // The API lists newest first.
          for (const event of [...(events.data ?? [])].reverse()) {
            lastEventId = event.id;
            if (event.type === "metrics" && event.data?.step !== undefined) {
              lastLoss = event.data.train_loss ?? lastLoss;
              ctx.onProgress({
                step: BigInt(event.data.step),
                totalSteps: BigInt(event.data.total_steps ?? 0),
                loss: event.data.train_loss ?? 0,
              });
            }
          }
          job = await call<HostedJob>("GET", `/fine_tuning/jobs/${job.id}`);
          if (job.status === "succeeded") break;
          if (job.status === "failed" || job.status === "cancelled") {
            const code = job.error?.code ?? "";
            const userCaused = /invalid|validation|file|model/i.test(code);
            throw new ExecutorFailure(
              userCaused ? FailureClass.USER_ERROR : FailureClass.TRANSIENT,
              `hosted job ${job.id} ${job.status}: ${job.error?.message ?? code ?? "no reason given"}`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs ?? 10_000));
        }
        if (!job.fine_tuned_model) throw new ExecutorFailure(FailureClass.TRANSIENT, "hosted job has no model name");
        await writeFile(
          join(ctx.adapterDir, HOSTED_ADAPTER_FILE),
          `${JSON.stringify({ provider: "openai", base_url: base, hosted_job_id: job.id, fine_tuned_model: job.fine_tuned_model, training_file: file.id }, null, 2)}\n`,
        );
        return {
          metrics: {
            train_runtime_seconds: (performance.now() - started) / 1000,
            ...(Number.isFinite(lastLoss) ? { train_loss: lastLoss } : {}),
            ...(job.trained_tokens ? { trained_tokens: job.trained_tokens } : {}),
          },
        };
      } finally {
        ctx.signal.removeEventListener("abort", cancel);
      }
    },
  };
}
