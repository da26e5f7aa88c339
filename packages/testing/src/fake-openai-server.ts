import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createFakeFineTuning, type FakeFineTuningApi, type FakeFineTuningOptions } from "./fake-fine-tuning.js";

/**
 * A local OpenAI-compatible HTTP server: the test double for remote LLM APIs. The real client code
 * talks to it over HTTP. Answers are deterministic functions of (model, adapter, prompt, choice).
 */

/**
 * The wire shapes this server reads and writes, declared here rather than imported from @ragtune/llm: the fake is
 * the other side of that client's protocol (and @ragtune/llm's own tests use this package).
 */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** One output position with its alternatives, as the client's `logprobs` parsing returns it. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  top: Array<{ token: string; logprob: number }>;
}

export interface FakeModel {
  id: string;
  /** Context window reported as vLLM's max_model_len, unit {token}. Default 4096. */
  maxModelLen?: number;
}

export interface FakeGenerationInput {
  endpoint: "chat" | "completion";
  /** Model name as requested. */
  model: string;
  /** Base model actually answering. */
  base: string;
  /** LoRA adapter whose weights are really in effect (undefined when none, or when a load was ignored). */
  adapter?: string;
  /** The folder that adapter was loaded from (load_lora_adapter's lora_path), when it was loaded at run time. */
  adapterPath?: string;
  /** The hosted fine-tuned model answering (a job of the fine-tuning API succeeded with this name), if any. */
  fineTunedModel?: string;
  /** The prompt text (chat: messages joined as "role: content" lines). */
  prompt: string;
  messages?: ChatMessage[];
  /** Index of the choice when n > 1. */
  choiceIndex: number;
  /** The request body as sent. */
  body: Record<string, unknown>;
}

export interface FakeGenerationOutput {
  /** Output tokens; the text is their concatenation. */
  tokens: string[];
  /** Per-token log probabilities with alternatives; generated when absent. */
  logprobs?: TokenLogprob[];
}

export type FakeResponder = (input: FakeGenerationInput) => FakeGenerationOutput;

export interface FakeOpenAiServerOptions {
  /** Fixed time each request waits before it is answered (streams: before the first chunk), ms. Default 0. */
  latencyMs?: number;
  /** Base models served. Default one: "fake-base" with a 4096-token window. */
  models?: FakeModel[];
  /** LoRA adapters already served at start, as name → base model. */
  adapters?: Record<string, string>;
  /**
   * How POST /v1/load_lora_adapter behaves: "load" reads `<lora_path>/adapter_config.json` as vLLM does
   * (no such file: 404 "No adapter found"; not JSON: 400) and serves the adapter (its outputs differ
   * from the base model's); "ignore" answers 200 without looking at the path and the outputs stay the
   * base model's (what vLLM has done for paths that did not exist); "reject" answers 400. Default "load".
   */
  loraLoading?: "load" | "ignore" | "reject";
  /** Answer one choice whatever `n` asks, as llama.cpp's server and Ollama do. Default false (n is honoured). */
  ignoreN?: boolean;
  /** When set, every request must carry `Authorization: Bearer <apiKey>` (else 401). */
  apiKey?: string;
  /** How the fine-tuning API (/v1/files, /v1/fine_tuning/jobs) moves its jobs along. */
  fineTuning?: FakeFineTuningOptions;
  /**
   * Holds each completion before it is answered, e.g. for the time a modelled inference engine would take
   * (the protocol simulation's vLLM model). Default: none.
   */
  pace?: (call: PacedCall) => Promise<void>;
  /** Computes answers; default: a deterministic echo of prompt words tagged with the model. */
  respond?: FakeResponder;
  host?: string;
}

/** A completion about to be answered, as `pace` sees it. */
export interface PacedCall {
  /** Model name as requested. */
  model: string;
  base: string;
  /** LoRA adapter in effect, if any. */
  adapter?: string;
  /** Hosted fine-tuned model answering, if any. */
  fineTunedModel?: string;
  promptTokens: number;
  completionTokens: number;
  n: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: Record<string, unknown> | undefined;
  authorization: string | undefined;
  /**
   * Whether the reply reached the client: "answered" once it was sent whole, "abandoned" when the client went away
   * before a reply was made (a killed caller): no answer was drawn for it, as a real server stops a cancelled
   * request. Unset while it is being answered.
   */
  outcome?: "answered" | "abandoned";
  /** When it arrived (Date.now()). */
  receivedAt: number;
}

export interface FakeOpenAiServer {
  /** API root with the version, e.g. "http://127.0.0.1:40123/v1". */
  readonly baseUrl: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Most requests that were being answered at the same moment. */
  readonly maxInFlight: number;
  /** The next `count` requests (optionally only those whose path ends with `pathSuffix`) fail with `status`. */
  failNext(count: number, status?: number, options?: { pathSuffix?: string; retryAfterSeconds?: number }): void;
  /** Forgets failures injected by failNext that have not happened yet. */
  clearFailures(): void;
  setLatency(ms: number): void;
  /** Serves an adapter as if it had been loaded. */
  addAdapter(name: string, base: string): void;
  /** Serves a hosted fine-tuned model as if a fine-tuning job had made it. */
  addFineTunedModel(name: string, base: string): void;
  /** Files uploaded and jobs created through the fine-tuning API. */
  readonly fineTuning: FakeFineTuningApi;
  close(): Promise<void>;
}

interface PendingFailure {
  remaining: number;
  status: number;
  pathSuffix?: string;
  retryAfterSeconds?: number;
}

export async function startFakeOpenAiServer(options: FakeOpenAiServerOptions = {}): Promise<FakeOpenAiServer> {
  const models = options.models ?? [{ id: "fake-base", maxModelLen: 4096 }];
  const respond = options.respond ?? defaultResponder;
  let latencyMs = options.latencyMs ?? 0;
  /** Adapter name → { base, effective }: effective false when a load was "ignored". */
  const adapters = new Map<string, { base: string; effective: boolean; path?: string }>();
  for (const [name, base] of Object.entries(options.adapters ?? {})) adapters.set(name, { base, effective: true });
  const failures: PendingFailure[] = [];
  /** Hosted fine-tuned model name → its base: served like a base model, listed without a parent (as OpenAI does). */
  const hostedModels = new Map<string, string>();
  const fineTuning = createFakeFineTuning(options.fineTuning ?? {}, {
    isBase: (name) => models.some((m) => m.id === name),
    serve: (name, base) => hostedModels.set(name, base),
  });
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  const server: Server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on("close", () => inFlight--);
    handle(req, res).catch((error) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(error), type: "server_error" } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const [path, queryString] = (req.url ?? "/").split("?");
    const rawBytes = await readBody(req);
    const raw = rawBytes.toString("utf8");
    const contentType = req.headers["content-type"] ?? "";
    let body: Record<string, unknown> | undefined;
    if (raw.length > 0 && !contentType.startsWith("multipart/form-data")) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return sendJson(res, 400, { error: { message: "body is not JSON", type: "invalid_request_error" } });
      }
    }
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path,
      body,
      authorization: req.headers.authorization,
      receivedAt: Date.now(),
    };
    requests.push(recorded);
    let callerGone = false;
    res.on("finish", () => {
      recorded.outcome = "answered";
    });
    res.on("close", () => {
      callerGone ||= !res.writableFinished;
    });
    if (latencyMs > 0) await delay(latencyMs);
    if (callerGone || req.socket.destroyed) {
      recorded.outcome = "abandoned";
      return;
    }

    const failure = failures.find((f) => f.remaining > 0 && (!f.pathSuffix || path.endsWith(f.pathSuffix)));
    if (failure) {
      failure.remaining--;
      if (failure.retryAfterSeconds !== undefined) res.setHeader("retry-after", String(failure.retryAfterSeconds));
      return sendJson(res, failure.status, { error: { message: `injected failure ${failure.status}`, type: "fake" } });
    }
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendJson(res, 401, { error: { message: "invalid api key", type: "invalid_request_error" } });
    }

    if (req.method === "GET" && path === "/v1/models") return sendJson(res, 200, listModels());
    if (req.method === "POST" && path === "/v1/load_lora_adapter") return await loadLora(res, body ?? {});
    if (req.method === "POST" && path === "/v1/unload_lora_adapter") {
      const name = String(body?.lora_name ?? "");
      if (!adapters.delete(name)) return sendJson(res, 404, { error: { message: `adapter ${name} not found` } });
      res.writeHead(200, { "content-type": "text/plain" }).end(`Success: LoRA adapter '${name}' removed successfully.`);
      return;
    }
    const fineTuningReply = await fineTuning.handle({
      method: req.method ?? "GET",
      path,
      query: new URLSearchParams(queryString ?? ""),
      contentType,
      raw: rawBytes,
      body,
    });
    if (fineTuningReply) return sendJson(res, fineTuningReply.status, fineTuningReply.payload);
    if (req.method === "POST" && (path === "/v1/chat/completions" || path === "/v1/completions")) {
      return generate(res, path === "/v1/chat/completions" ? "chat" : "completion", body ?? {});
    }
    sendJson(res, 404, { error: { message: `no route ${req.method} ${path}`, type: "not_found" } });
  }

  function listModels() {
    const data: Array<Record<string, unknown>> = models.map((m) => ({
      id: m.id,
      object: "model",
      created: 0,
      owned_by: "fake",
      root: m.id,
      parent: null,
      max_model_len: m.maxModelLen ?? 4096,
    }));
    for (const [name, info] of adapters) {
      const base = models.find((m) => m.id === info.base);
      data.push({
        id: name,
        object: "model",
        created: 0,
        owned_by: "fake",
        root: info.path ?? name,
        parent: info.base,
        max_model_len: base?.maxModelLen ?? 4096,
      });
    }
    for (const [name, base] of hostedModels) {
      const window = models.find((m) => m.id === base)?.maxModelLen ?? 4096;
      data.push({ id: name, object: "model", created: 0, owned_by: "ragtune-test", max_model_len: window });
    }
    return { object: "list", data };
  }

  async function loadLora(res: ServerResponse, body: Record<string, unknown>) {
    const name = typeof body.lora_name === "string" ? body.lora_name : "";
    const path = typeof body.lora_path === "string" ? body.lora_path : "";
    if (!name || !path) return sendJson(res, 400, { error: { message: "lora_name and lora_path are required" } });
    if (adapters.has(name)) {
      return sendJson(res, 400, { error: { message: `The lora adapter '${name}' has already been loaded.` } });
    }
    const mode = options.loraLoading ?? "load";
    if (mode === "reject") return sendJson(res, 400, { error: { message: `No adapter found for ${path}` } });
    if (mode === "load") {
      let config: string;
      try {
        config = await readFile(join(path, "adapter_config.json"), "utf8");
      } catch {
        return sendJson(res, 404, {
          error: {
            message: `Loading lora ${name} failed: No adapter found for ${path}`,
            type: "NotFoundError",
            code: 404,
          },
        });
      }
      try {
        JSON.parse(config);
      } catch (error) {
        return sendJson(res, 400, {
          error: { message: `Loading lora ${name} failed: ${(error as Error).message}`, type: "BadRequestError" },
        });
      }
    }
    adapters.set(name, { base: models[0].id, effective: mode === "load", path });
    res.writeHead(200, { "content-type": "text/plain" }).end(`Success: LoRA adapter '${name}' added successfully.`);
  }

  async function generate(res: ServerResponse, endpoint: "chat" | "completion", body: Record<string, unknown>) {
    const model = String(body.model ?? "");
    const adapter = adapters.get(model);
    const hostedBase = hostedModels.get(model);
    const base = adapter ? adapter.base : (hostedBase ?? models.find((m) => m.id === model)?.id);
    if (!base) {
      return sendJson(res, 404, {
        error: { message: `The model \`${model}\` does not exist.`, type: "NotFoundError", code: 404 },
      });
    }
    const messages = endpoint === "chat" ? (body.messages as ChatMessage[] | undefined) : undefined;
    if (endpoint === "chat" && !Array.isArray(messages)) {
      return sendJson(res, 400, { error: { message: "messages is required", type: "invalid_request_error" } });
    }
    const prompt = messages ? messages.map((m) => `${m.role}: ${m.content}`).join("\n") : String(body.prompt ?? "");
    const promptTokens = countWords(prompt);
    const maxModelLen = models.find((m) => m.id === base)?.maxModelLen ?? 4096;
    const maxTokens = typeof body.max_tokens === "number" ? body.max_tokens : 16;
    if (promptTokens + maxTokens > maxModelLen) {
      return sendJson(res, 400, {
        error: {
          message: `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptTokens + maxTokens} tokens.`,
          type: "BadRequestError",
        },
      });
    }
    const n = typeof body.n === "number" && body.n > 0 && !options.ignoreN ? body.n : 1;
    const stop = Array.isArray(body.stop) ? (body.stop as string[]) : [];
    const choices = Array.from({ length: n }, (_, choiceIndex) => {
      const output = respond({
        endpoint,
        model,
        base,
        adapter: adapter?.effective ? model : undefined,
        adapterPath: adapter?.effective ? adapter.path : undefined,
        fineTunedModel: hostedBase ? model : undefined,
        prompt,
        messages,
        choiceIndex,
        body,
      });
      return limitOutput(output, maxTokens, stop);
    });
    const completionTokens = choices.reduce((sum, c) => sum + c.tokens.length, 0);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    await options.pace?.({
      model,
      base,
      adapter: adapter?.effective ? model : undefined,
      fineTunedModel: hostedBase ? model : undefined,
      promptTokens,
      completionTokens,
      n,
    });
    const id = `fake-${requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    const wantLogprobs = endpoint === "chat" ? body.logprobs === true : typeof body.logprobs === "number";
    const topK = endpoint === "chat" ? Number(body.top_logprobs ?? 0) : Number(body.logprobs ?? 0);

    if (body.stream === true) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const object = endpoint === "chat" ? "chat.completion.chunk" : "text_completion";
      for (const [index, choice] of choices.entries()) {
        for (const token of choice.tokens) {
          const delta = endpoint === "chat" ? { delta: { content: token } } : { text: token };
          writeEvent(res, { id, object, created, model, choices: [{ index, ...delta, finish_reason: null }] });
        }
        const end = endpoint === "chat" ? { delta: {} } : { text: "" };
        writeEvent(res, {
          id,
          object,
          created,
          model,
          choices: [{ index, ...end, finish_reason: choice.finishReason }],
        });
      }
      const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage;
      if (includeUsage) writeEvent(res, { id, object, created, model, choices: [], usage });
      res.end("data: [DONE]\n\n");
      return;
    }

    if (endpoint === "chat") {
      return sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        usage,
        choices: choices.map((c, index) => ({
          index,
          message: { role: "assistant", content: c.tokens.join("") },
          finish_reason: c.finishReason,
          logprobs: wantLogprobs
            ? {
                content: c.logprobs.map((lp) => ({
                  token: lp.token,
                  logprob: lp.logprob,
                  bytes: [...Buffer.from(lp.token)],
                  top_logprobs: lp.top.slice(0, topK).map((t) => ({ ...t, bytes: [...Buffer.from(t.token)] })),
                })),
              }
            : null,
        })),
      });
    }
    sendJson(res, 200, {
      id,
      object: "text_completion",
      created,
      model,
      usage,
      choices: choices.map((c, index) => {
        let offset = 0;
        return {
          index,
          text: c.tokens.join(""),
          finish_reason: c.finishReason,
          logprobs: wantLogprobs
            ? {
                tokens: c.logprobs.map((lp) => lp.token),
                token_logprobs: c.logprobs.map((lp) => lp.logprob),
                top_logprobs: c.logprobs.map((lp) =>
                  Object.fromEntries(lp.top.slice(0, topK).map((t) => [t.token, t.logprob])),
                ),
                text_offset: c.logprobs.map((lp) => {
                  const at = offset;
                  offset += lp.token.length;
                  return at;
                }),
              }
            : null,
        };
      }),
    });
  }

  await new Promise<void>((resolve) => server.listen(0, options.host ?? "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://${options.host ?? "127.0.0.1"}:${port}/v1`,
    port,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    failNext(count, status = 500, failOptions = {}) {
      failures.push({ remaining: count, status, ...failOptions });
    },
    clearFailures() {
      failures.length = 0;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    addAdapter(name, base) {
      adapters.set(name, { base, effective: true });
    },
    addFineTunedModel(name, base) {
      hostedModels.set(name, base);
    },
    fineTuning: fineTuning.api,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A deterministic answer: up to 12 words of the prompt chosen by a hash of (model, adapter, prompt, choice). */
export const defaultResponder: FakeResponder = (input) => {
  const identity = input.adapter ? `${input.base}+${input.adapter}` : (input.fineTunedModel ?? input.base);
  const words = input.prompt.split(/\s+/).filter((w) => /^[\p{L}\p{N}]/u.test(w));
  const seed = createHash("sha256").update(`${identity}\n${input.choiceIndex}\n${input.prompt}`).digest();
  const picked = Array.from({ length: 12 }, (_, i) =>
    words.length > 0 ? words[seed[i] % words.length] : `w${seed[i]}`,
  );
  const tokens = [`[${identity}]`, ...picked.map((w) => ` ${w}`)];
  return { tokens };
};

function limitOutput(output: FakeGenerationOutput, maxTokens: number, stop: string[]) {
  let tokens = output.tokens;
  let finishReason = "stop";
  const stopAt = tokens.findIndex((token) => stop.some((s) => s && token.includes(s)));
  if (stopAt >= 0) tokens = tokens.slice(0, stopAt);
  else if (tokens.length > maxTokens) {
    tokens = tokens.slice(0, maxTokens);
    finishReason = "length";
  }
  const logprobs = tokens.map((token, i) => output.logprobs?.[i] ?? syntheticLogprob(token, i));
  return { tokens, finishReason, logprobs };
}

/** A plausible distribution: the chosen token first, then alternatives with lower log probabilities. */
function syntheticLogprob(token: string, position: number): TokenLogprob {
  const hash = createHash("sha256").update(`${position}:${token}`).digest();
  const logprob = -(hash[0] / 255) * 0.5;
  const top = [{ token, logprob }];
  for (let k = 1; k < 20; k++) top.push({ token: `${token}~${k}`, logprob: logprob - k * (0.5 + hash[k] / 255) });
  return { token, logprob, top };
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function writeEvent(res: ServerResponse, payload: unknown) {
  res.write(`data: ${JSON.stringify(payload)}\n\n`);
}

function sendJson(res: ServerResponse, status: number, payload: unknown) {
  const text = JSON.stringify(payload);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function delay(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
