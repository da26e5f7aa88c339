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
import { agentIsStopping, type Executor, type ExecutorContext, ExecutorFailure } from "./executor.js";

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
  training_file?: string;
  suffix?: string | null;
  metadata?: Record<string, string> | null;
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

/** The hosted job's metadata key naming the ragtune job it fine-tunes for. */
export const RAGTUNE_JOB_ID_KEY = "ragtune_job_id";
/** Hosted jobs that may still produce the model: worth following rather than starting another. */
const REUSABLE = new Set(["validating_files", "queued", "running", "succeeded"]);
/** Pages of the provider's job list searched for an earlier attempt's job (100 jobs a page). */
const MAX_LIST_PAGES = 20;

/** The provider's suffix is short (OpenAI: 64 characters); the metadata carries the whole id. */
const hostedSuffix = (jobId: string) => jobId.slice(0, 40);

/** Whether a hosted job was started for this ragtune job: by its metadata, or by its suffix where none is kept. */
function carriesJobId(job: HostedJob, jobId: string): boolean {
  const tagged = job.metadata?.[RAGTUNE_JOB_ID_KEY];
  if (tagged !== undefined) return tagged === jobId;
  return jobId.length <= 40 && job.suffix === hostedSuffix(jobId);
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

  /** The provider's job an earlier attempt started for this ragtune job and that can still succeed, if any. */
  async function findHostedJob(ragtuneJobId: string): Promise<HostedJob | undefined> {
    const filter = `metadata[${RAGTUNE_JOB_ID_KEY}]=${encodeURIComponent(ragtuneJobId)}`;
    let after = "";
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const query = `?limit=100&${filter}${after ? `&after=${encodeURIComponent(after)}` : ""}`;
      const listed = await call<{ data?: HostedJob[]; has_more?: boolean }>("GET", `/fine_tuning/jobs${query}`);
      const jobs = listed.data ?? [];
      // Matched here too: a provider may ignore the metadata filter.
      const mine = jobs.find((job) => carriesJobId(job, ragtuneJobId) && REUSABLE.has(job.status));
      if (mine) return mine;
      if (!listed.has_more || jobs.length === 0) return undefined;
      after = jobs[jobs.length - 1].id;
    }
    return undefined;
  }

  async function createHostedJob(ctx: ExecutorContext): Promise<HostedJob> {
    const spec = ctx.job.spec!;
    const form = new FormData();
    form.set("purpose", "fine-tune");
    form.set("file", new Blob([renderChatJsonl(ctx.pairs)], { type: "application/jsonl" }), `${ctx.job.jobId}.jsonl`);
    const file = await call<{ id: string }>("POST", "/files", form, false);
    return call<HostedJob>(
      "POST",
      "/fine_tuning/jobs",
      JSON.stringify({
        model: spec.baseModel,
        training_file: file.id,
        suffix: hostedSuffix(ctx.job.jobId),
        seed: Number(spec.seed),
        hyperparameters: { n_epochs: spec.epochs, batch_size: spec.microBatchSize * spec.gradientAccumulationSteps },
        metadata: { [RAGTUNE_JOB_ID_KEY]: ctx.job.jobId },
      }),
    );
  }

  return {
    name: "openai",
    async run(ctx: ExecutorContext) {
      const spec = ctx.job.spec;
      if (!spec) throw new ExecutorFailure(FailureClass.USER_ERROR, "the job has no spec");
      // One hosted job per ragtune job: a new attempt (after an agent restart, a lost node) finds the one an
      // earlier attempt created and follows it instead of paying for a second fine-tune.
      const created = (await findHostedJob(ctx.job.jobId)) ?? (await createHostedJob(ctx));
      // Cancelling the ragtune job cancels the hosted one; the agent stopping leaves it for the next attempt.
      const cancel = () => {
        if (agentIsStopping(ctx.signal)) return;
        void call("POST", `/fine_tuning/jobs/${created.id}/cancel`).catch(() => {});
      };
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
          `${JSON.stringify({ provider: "openai", base_url: base, hosted_job_id: job.id, fine_tuned_model: job.fine_tuned_model, training_file: job.training_file }, null, 2)}\n`,
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
