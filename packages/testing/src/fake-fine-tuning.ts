/**
 * The fine-tuning half of the fake OpenAI-compatible server: POST /v1/files (multipart upload), POST
 * /v1/fine_tuning/jobs, GET /v1/fine_tuning/jobs (newest first; `after`, `limit` and `metadata[key]=value` filters,
 * as OpenAI's list), GET /v1/fine_tuning/jobs/{id} (each poll moves the job on), GET .../events (newest first,
 * `after` = the newest id already seen), POST .../cancel. A job that succeeds names its model
 * `ft:<base>:ragtune-test:<suffix>:<job>`, which the server then serves like any model.
 */

export interface FakeFineTuningOptions {
  /** Status polls a job takes from creation to "succeeded" (the first moves it to "running"). Default 2. */
  pollsToSucceed?: number;
  /** Every job fails with this error on its last poll instead of succeeding. */
  failWith?: { code: string; message: string };
}

export interface FakeUploadedFile {
  id: string;
  filename: string;
  purpose: string;
  /** The file's text as uploaded. */
  content: string;
}

export interface FakeFineTuningEvent {
  id: string;
  object: "fine_tuning.job.event";
  created_at: number;
  level: "info" | "error";
  type: "message" | "metrics";
  message: string;
  data: { step: number; total_steps: number; train_loss: number } | null;
}

export interface FakeFineTuningJob {
  id: string;
  object: "fine_tuning.job";
  status: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  model: string;
  training_file: string;
  fine_tuned_model: string | null;
  suffix: string | null;
  seed: number | null;
  hyperparameters: Record<string, unknown>;
  metadata: Record<string, string> | null;
  trained_tokens: number | null;
  error: { code: string; message: string; param: string | null } | null;
  created_at: number;
}

export interface FakeFineTuningApi {
  /** Uploaded files by id. */
  readonly files: ReadonlyMap<string, FakeUploadedFile>;
  /** Fine-tuning jobs by id. */
  readonly jobs: ReadonlyMap<string, FakeFineTuningJob>;
}

export interface FineTuningRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string;
  raw: Buffer;
  body: Record<string, unknown> | undefined;
}

export interface FineTuningReply {
  status: number;
  payload: unknown;
}

const error = (status: number, message: string, code: string, param: string | null = null): FineTuningReply => ({
  status,
  payload: { error: { message, type: "invalid_request_error", code, param } },
});

/** Chat-format JSONL as the API requires it: every line a JSON object whose messages end with the assistant's. */
function checkChatJsonl(content: string): string | undefined {
  const lines = content.split("\n").filter((line) => line.trim() !== "");
  if (lines.length === 0) return "the training file has no examples";
  for (const [i, line] of lines.entries()) {
    let example: { messages?: Array<{ role?: string; content?: string }> };
    try {
      example = JSON.parse(line);
    } catch {
      return `line ${i + 1} is not JSON`;
    }
    const messages = example.messages;
    if (!Array.isArray(messages) || messages.length < 2) return `line ${i + 1} has no messages`;
    if (messages.at(-1)?.role !== "assistant") return `line ${i + 1} does not end with an assistant message`;
    if (messages.some((m) => typeof m.content !== "string")) return `line ${i + 1} has a message without content`;
  }
  return undefined;
}

export function createFakeFineTuning(
  options: FakeFineTuningOptions,
  models: { isBase(name: string): boolean; serve(name: string, base: string): void },
) {
  const files = new Map<string, FakeUploadedFile>();
  const jobs = new Map<string, FakeFineTuningJob & { polls: number; events: FakeFineTuningEvent[] }>();
  const pollsToSucceed = Math.max(1, options.pollsToSucceed ?? 2);
  let counter = 0;
  const now = () => Math.floor(Date.now() / 1000);

  function addEvent(job: { id: string; events: FakeFineTuningEvent[] }, event: Partial<FakeFineTuningEvent>) {
    job.events.push({
      id: `ftevent-${++counter}`,
      object: "fine_tuning.job.event",
      created_at: now(),
      level: "info",
      type: "message",
      message: "",
      data: null,
      ...event,
    });
  }

  async function upload(request: FineTuningRequest): Promise<FineTuningReply> {
    if (!request.contentType.startsWith("multipart/form-data")) {
      return error(400, "files are uploaded as multipart/form-data", "invalid_content_type");
    }
    const form = await new Response(request.raw, { headers: { "content-type": request.contentType } }).formData();
    const file = form.get("file");
    const purpose = String(form.get("purpose") ?? "");
    if (!file || typeof file === "string") return error(400, "a file is required", "missing_file", "file");
    if (purpose !== "fine-tune") return error(400, `unsupported purpose ${purpose}`, "invalid_purpose", "purpose");
    const content = await file.text();
    const id = `file-${++counter}`;
    files.set(id, { id, filename: file.name, purpose, content });
    return {
      status: 200,
      payload: {
        id,
        object: "file",
        bytes: Buffer.byteLength(content),
        created_at: now(),
        filename: file.name,
        purpose,
      },
    };
  }

  function createJob(body: Record<string, unknown>): FineTuningReply {
    const model = String(body.model ?? "");
    if (!models.isBase(model))
      return error(400, `model ${model} is not available for fine-tuning`, "model_not_available", "model");
    const training = files.get(String(body.training_file ?? ""));
    if (!training)
      return error(
        400,
        `invalid training_file: ${String(body.training_file)}`,
        "invalid_training_file",
        "training_file",
      );
    const problem = checkChatJsonl(training.content);
    if (problem) return error(400, `invalid training file: ${problem}`, "invalid_file_format", "training_file");
    const id = `ftjob-${++counter}`;
    const job = {
      id,
      object: "fine_tuning.job" as const,
      status: "queued" as const,
      model,
      training_file: training.id,
      fine_tuned_model: null,
      suffix: typeof body.suffix === "string" ? body.suffix : null,
      seed: typeof body.seed === "number" ? body.seed : null,
      hyperparameters: (body.hyperparameters as Record<string, unknown>) ?? {},
      metadata: (body.metadata as Record<string, string>) ?? null,
      trained_tokens: null,
      error: null,
      created_at: now(),
      polls: 0,
      events: [],
    };
    jobs.set(id, job);
    addEvent(job, { message: `Created fine-tuning job: ${id}` });
    return { status: 200, payload: publicJob(job) };
  }

  /** Each status poll moves a job one step: queued → running (with a metrics event per poll) → succeeded. */
  function advance(job: FakeFineTuningJob & { polls: number; events: FakeFineTuningEvent[] }) {
    if (job.status !== "queued" && job.status !== "running") return;
    job.polls++;
    job.status = "running";
    const examples = files.get(job.training_file)?.content.split("\n").filter(Boolean).length ?? 0;
    addEvent(job, {
      type: "metrics",
      message: `Step ${job.polls}/${pollsToSucceed}`,
      data: { step: job.polls, total_steps: pollsToSucceed, train_loss: 2 / (1 + job.polls) },
    });
    if (job.polls < pollsToSucceed) return;
    if (options.failWith) {
      job.status = "failed";
      job.error = { ...options.failWith, param: null };
      addEvent(job, { level: "error", message: options.failWith.message });
      return;
    }
    job.status = "succeeded";
    job.trained_tokens = examples * 100;
    job.fine_tuned_model = `ft:${job.model}:ragtune-test:${job.suffix ?? "model"}:${job.id}`;
    models.serve(job.fine_tuned_model, job.model);
    addEvent(job, { message: "The job has successfully completed" });
  }

  function publicJob(job: FakeFineTuningJob & { polls?: number; events?: unknown }): FakeFineTuningJob {
    const { polls: _polls, events: _events, ...rest } = job;
    return { ...rest };
  }

  /** Jobs newest first, after the `after` cursor, those whose metadata match every `metadata[key]` filter. */
  function listJobs(query: URLSearchParams): FineTuningReply {
    const filters = [...query.entries()]
      .map(([name, value]) => [/^metadata\[(.+)\]$/.exec(name)?.[1], value] as const)
      .filter((filter): filter is readonly [string, string] => filter[0] !== undefined);
    let listed = [...jobs.values()]
      .reverse()
      .filter((job) => filters.every(([key, value]) => job.metadata?.[key] === value));
    const after = query.get("after");
    if (after) listed = listed.slice(listed.findIndex((job) => job.id === after) + 1);
    const limit = Math.max(1, Number(query.get("limit") ?? 20));
    const page = listed.slice(0, limit);
    return {
      status: 200,
      payload: { object: "list", data: page.map(publicJob), has_more: listed.length > page.length },
    };
  }

  /** Answers a fine-tuning route, or undefined when the request is not one. */
  async function handle(request: FineTuningRequest): Promise<FineTuningReply | undefined> {
    const { method, path } = request;
    if (method === "POST" && path === "/v1/files") return upload(request);
    if (method === "POST" && path === "/v1/fine_tuning/jobs") return createJob(request.body ?? {});
    if (method === "GET" && path === "/v1/fine_tuning/jobs") return listJobs(request.query);
    const match = /^\/v1\/fine_tuning\/jobs\/([^/]+)(\/events|\/cancel)?$/.exec(path);
    if (!match) return undefined;
    const job = jobs.get(decodeURIComponent(match[1]));
    if (!job) return error(404, `fine-tuning job ${match[1]} not found`, "not_found");
    if (method === "GET" && !match[2]) {
      advance(job);
      return { status: 200, payload: publicJob(job) };
    }
    if (method === "GET" && match[2] === "/events") {
      const after = request.query.get("after");
      const start = after ? job.events.findIndex((e) => e.id === after) + 1 : 0;
      const limit = Number(request.query.get("limit") ?? 20);
      const newer = job.events.slice(start).reverse().slice(0, limit);
      return { status: 200, payload: { object: "list", data: newer, has_more: false } };
    }
    if (method === "POST" && match[2] === "/cancel") {
      if (job.status === "queued" || job.status === "running") {
        job.status = "cancelled";
        addEvent(job, { message: "Fine-tuning job cancelled" });
      }
      return { status: 200, payload: publicJob(job) };
    }
    return undefined;
  }

  const api: FakeFineTuningApi = { files, jobs };
  return { api, handle };
}
