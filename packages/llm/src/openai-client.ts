import { type BackoffOptions, backoffDelayMs, parseRetryAfterMs, sleep } from "./backoff.js";
import { type ConcurrencyLimiter, createConcurrencyLimiter } from "./concurrency-limiter.js";
import { LlmError } from "./errors.js";
import { createHttpTransport, type HttpRequest, type HttpResponse } from "./http-transport.js";
import { readSseData } from "./sse.js";
import type {
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatCompletionResponse,
  CompletionChunk,
  CompletionRequest,
  CompletionResponse,
  LoadLoraAdapterRequest,
  ModelList,
} from "./types.js";

export interface OpenAiClientOptions {
  /** API root including the version, e.g. "http://127.0.0.1:8000/v1" or "https://api.openai.com/v1". */
  baseUrl: string;
  /** Sent as a bearer token; never logged, never part of an error message. */
  apiKey?: string;
  /** Per attempt: until the full body (or, streaming, between chunks), ms. Default 60000. */
  timeoutMs?: number;
  /** Retries after the first attempt, on 429/5xx/network/timeout only. Default 3. */
  maxRetries?: number;
  /** Backoff between attempts. Default base 250 ms, cap 8000 ms. */
  backoff?: Partial<BackoffOptions>;
  /** Generation requests (chat/completions) in flight at once against this backend. Default 32. Listing and adapter calls do not queue behind them. */
  maxConcurrency?: number;
  /** Extra headers on every request (e.g. OpenAI-Organization). */
  headers?: Record<string, string>;
  /** Called before each retry, e.g. to log; gets no secrets. */
  onRetry?: (info: { path: string; attempt: number; delayMs: number; error: LlmError }) => void;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Overrides the client's timeout for this call, ms. */
  timeoutMs?: number;
  /** Overrides the client's retries for this call (a readiness probe wants 0). */
  maxRetries?: number;
}

export interface OpenAiClient {
  readonly baseUrl: string;
  readonly limiter: ConcurrencyLimiter;
  chatCompletion(request: ChatCompletionRequest, options?: RequestOptions): Promise<ChatCompletionResponse>;
  completion(request: CompletionRequest, options?: RequestOptions): Promise<CompletionResponse>;
  /** Streams chunks; usage arrives on the last chunk when the server honours stream_options.include_usage. */
  streamChatCompletion(request: ChatCompletionRequest, options?: RequestOptions): AsyncGenerator<ChatCompletionChunk>;
  streamCompletion(request: CompletionRequest, options?: RequestOptions): AsyncGenerator<CompletionChunk>;
  listModels(options?: RequestOptions): Promise<ModelList>;
  /** vLLM: serve a LoRA adapter from a path on the server's file system. */
  loadLoraAdapter(request: LoadLoraAdapterRequest, options?: RequestOptions): Promise<void>;
  /** vLLM: stop serving a LoRA adapter. */
  unloadLoraAdapter(request: { lora_name: string }, options?: RequestOptions): Promise<void>;
}

/** What differs between the client's requests; headers and the abort signal are added per attempt. */
type AttemptInit = Omit<HttpRequest, "headers" | "signal">;

const DEFAULTS = { timeoutMs: 60_000, maxRetries: 3, baseMs: 250, maxMs: 8_000, maxConcurrency: 32 };

/** A client for any OpenAI-compatible server (vLLM, Ollama, TGI, llama.cpp server, OpenAI). */
export function createOpenAiClient(options: OpenAiClientOptions): OpenAiClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  const maxRetries = options.maxRetries ?? DEFAULTS.maxRetries;
  const backoff: BackoffOptions = {
    baseMs: options.backoff?.baseMs ?? DEFAULTS.baseMs,
    maxMs: options.backoff?.maxMs ?? DEFAULTS.maxMs,
    random: options.backoff?.random,
  };
  const limiter = createConcurrencyLimiter(options.maxConcurrency ?? DEFAULTS.maxConcurrency);
  const headers: Record<string, string> = { "content-type": "application/json", ...options.headers };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;

  const redact = (text: string) => (options.apiKey ? text.split(options.apiKey).join("****") : text);

  const http = createHttpTransport();

  /** One attempt: resolves with a 2xx response (body unread) or throws a classified LlmError. */
  async function attempt(path: string, init: AttemptInit, signal: AbortSignal): Promise<HttpResponse> {
    let response: HttpResponse;
    try {
      response = await http.send(`${baseUrl}${path}`, { ...init, headers, signal });
    } catch (error) {
      throw classifyFetchError(error, path, signal);
    }
    if (response.ok) return response;
    const body = await response.text().catch(() => "");
    const error = new LlmError(
      "http",
      redact(`${init.method ?? "GET"} ${path}: HTTP ${response.status} ${body.slice(0, 300)}`.trim()),
      response.status,
    );
    (error as LlmError & { retryAfterMs?: number }).retryAfterMs = parseRetryAfterMs(
      response.header("retry-after") ?? null,
    );
    throw error;
  }

  /**
   * Runs `use` on a 2xx response, retrying failed attempts with backoff. `use` runs inside the
   * attempt's timeout and concurrency slot, so reading the body counts towards both.
   */
  async function withRetries<T>(
    path: string,
    init: AttemptInit,
    call: RequestOptions,
    use: (response: HttpResponse) => Promise<T>,
    limited = true,
  ): Promise<T> {
    const held = await withRetriesHeld(path, init, call, use, limited);
    held.finish();
    return held.value;
  }

  /**
   * Like withRetries, but on success keeps the concurrency slot and the attempt's abort controller
   * (its timeout disarmed) for the caller to end with `finish()`: a stream lives past the response.
   */
  async function withRetriesHeld<T>(
    path: string,
    init: AttemptInit,
    call: RequestOptions,
    use: (response: HttpResponse) => Promise<T>,
    limited = true,
  ): Promise<{ value: T; controller: AbortController; finish: (cancel?: boolean) => void }> {
    for (let attemptNo = 0; ; attemptNo++) {
      const release = limited ? await limiter.acquire(call.signal) : () => {};
      const controller = new AbortController();
      const limitMs = call.timeoutMs ?? timeoutMs;
      const timer = setTimeout(
        () => controller.abort(new LlmError("timeout", `${path}: no answer within ${limitMs} ms`)),
        limitMs,
      );
      const onCallerAbort = () => controller.abort(call.signal?.reason);
      if (call.signal?.aborted) onCallerAbort();
      call.signal?.addEventListener("abort", onCallerAbort, { once: true });
      let finished = false;
      /** `cancel`: abort what may still be open (a failed attempt, an unfinished stream); a fully read body needs nothing. */
      const finish = (cancel = false) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        call.signal?.removeEventListener("abort", onCallerAbort);
        if (cancel && !controller.signal.aborted) controller.abort();
        release();
      };
      try {
        const response = await attempt(path, init, controller.signal);
        let value: T;
        try {
          value = await use(response);
        } catch (error) {
          throw classifyFetchError(error, path, controller.signal);
        }
        clearTimeout(timer);
        return { value, controller, finish };
      } catch (error) {
        const failure = classifyFetchError(error, path, controller.signal);
        finish(true);
        if (!failure.retryable || attemptNo >= (call.maxRetries ?? maxRetries) || call.signal?.aborted) {
          throw new LlmError(failure.kind, failure.message, failure.status, attemptNo + 1, { cause: failure.cause });
        }
        const delayMs = backoffDelayMs(
          attemptNo,
          backoff,
          (failure as LlmError & { retryAfterMs?: number }).retryAfterMs,
        );
        options.onRetry?.({ path, attempt: attemptNo + 1, delayMs, error: failure });
        await sleep(delayMs, call.signal);
      }
    }
  }

  const postJson = <T>(path: string, body: unknown, call: RequestOptions = {}) =>
    withRetries(path, { method: "POST", body: JSON.stringify(body) }, call, (response) => readJson<T>(response, path));

  /** Streams retry only until the response starts: after a chunk has been delivered a retry would repeat text. */
  async function* stream<T>(path: string, body: unknown, call: RequestOptions = {}): AsyncGenerator<T> {
    const held = await withRetriesHeld(
      path,
      { method: "POST", body: JSON.stringify(body), stream: true },
      call,
      async (r) => r,
    );
    const { value: response, controller } = held;
    const idleMs = call.timeoutMs ?? timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new LlmError("timeout", `${path}: no data for ${idleMs} ms`)), idleMs);
    };
    try {
      arm();
      for await (const payload of readSseData(abortable(response.body, controller.signal))) {
        arm();
        let parsed: T;
        try {
          parsed = JSON.parse(payload) as T;
        } catch {
          throw new LlmError("protocol", `${path}: stream chunk is not JSON: ${redact(payload.slice(0, 200))}`);
        }
        const streamError = (parsed as { error?: { message?: string } }).error;
        if (streamError)
          throw new LlmError("http", redact(`${path}: ${streamError.message ?? "error in stream"}`), 500);
        yield parsed;
      }
    } catch (error) {
      throw classifyFetchError(error, path, controller.signal);
    } finally {
      clearTimeout(timer);
      held.finish(true);
    }
  }

  return {
    baseUrl,
    limiter,
    chatCompletion: (request, call) =>
      postJson<ChatCompletionResponse>("/chat/completions", { ...request, stream: false }, call),
    completion: (request, call) => postJson<CompletionResponse>("/completions", { ...request, stream: false }, call),
    streamChatCompletion: (request, call) =>
      stream<ChatCompletionChunk>(
        "/chat/completions",
        { ...request, stream: true, stream_options: { include_usage: true } },
        call,
      ),
    streamCompletion: (request, call) =>
      stream<CompletionChunk>(
        "/completions",
        { ...request, stream: true, stream_options: { include_usage: true } },
        call,
      ),
    listModels: (call = {}) =>
      withRetries("/models", { method: "GET" }, call, (response) => readJson<ModelList>(response, "/models"), false),
    async loadLoraAdapter(request, call = {}) {
      await withRetries(
        "/load_lora_adapter",
        { method: "POST", body: JSON.stringify(request) },
        call,
        (r) => r.text(),
        false,
      );
    },
    async unloadLoraAdapter(request, call = {}) {
      await withRetries("/unload_lora_adapter", { method: "POST", body: JSON.stringify(request) }, call, (r) =>
        r.text(),
      );
    },
  };
}

async function readJson<T>(response: HttpResponse, path: string): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new LlmError("protocol", `${path}: response is not JSON: ${text.slice(0, 200)}`);
  }
}

function classifyFetchError(error: unknown, path: string, signal: AbortSignal): LlmError {
  if (error instanceof LlmError) return error;
  if (signal.aborted) {
    const reason = signal.reason as { name?: string } | undefined;
    if (reason instanceof LlmError) return reason;
    if (reason?.name === "TimeoutError")
      return new LlmError("timeout", `${path}: timed out`, undefined, 1, { cause: error });
    return new LlmError("aborted", `${path}: aborted`, undefined, 1, { cause: error });
  }
  // node:http puts the system error code (ECONNREFUSED, ECONNRESET) on the error itself.
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = (error as { code?: string }).code ?? cause?.code ?? cause?.message ?? (error as Error).message;
  return new LlmError("network", `${path}: ${detail}`, undefined, 1, { cause: error });
}

/** Ends iteration of a body when the signal fires (fetch's own signal only covers the request in some runtimes). */
async function* abortable(body: AsyncIterable<Uint8Array>, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const iterator = body[Symbol.asyncIterator]();
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => {});
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await iterator.return?.().catch(() => {});
  }
}
