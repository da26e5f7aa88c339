/** The judge's settings, read from the environment (or --flags) and validated at start-up. */
import { booleanSetting, httpUrlSetting, numberSetting, stringSetting } from "@ragtune/runtime";

export const judgeSettings = {
  openaiBaseUrl: httpUrlSetting({
    env: "JUDGE_OPENAI_BASE_URL",
    description: "OpenAI-compatible API root with version (e.g. http://vllm:8000/v1); unset: no model backend",
  }),
  openaiApiKey: stringSetting({ env: "JUDGE_OPENAI_API_KEY", description: "bearer token of that API", secret: true }),
  openaiSupportsN: booleanSetting({
    env: "JUDGE_OPENAI_SUPPORTS_N",
    description: "whether the server honours n > 1 (vLLM, OpenAI: true; llama.cpp server, Ollama: false)",
    default: true,
  }),
  openaiSupportsLogprobs: booleanSetting({
    env: "JUDGE_OPENAI_SUPPORTS_LOGPROBS",
    description: "whether the server returns top_logprobs (needed by SCORING_MODE_LOGPROB_WEIGHTED)",
    default: true,
  }),
  openaiMaxN: numberSetting({
    env: "JUDGE_OPENAI_MAX_N",
    description: "largest n of one request",
    default: 128,
    min: 1,
    max: 1024,
    integer: true,
  }),
  openaiTimeoutMs: numberSetting({
    env: "JUDGE_OPENAI_TIMEOUT_MS",
    description: "per-attempt timeout of a judge request, ms",
    default: 60_000,
    min: 100,
    integer: true,
  }),
  llamacppModel: stringSetting({
    env: "JUDGE_LLAMACPP_MODEL",
    description: "GGUF file (or hf:/https URI) of an in-process llama.cpp judge, backend 'llamacpp'; unset: none",
  }),
  llamacppModelName: stringSetting({
    env: "JUDGE_LLAMACPP_MODEL_NAME",
    description: "name requests use for that model (ModelRef.base_model)",
    default: "llamacpp-judge",
  }),
  llamacppContextSize: numberSetting({
    env: "JUDGE_LLAMACPP_CONTEXT_SIZE",
    description: "tokens per llama.cpp context (the G-Eval form is ~1,000 tokens with a byte-level vocabulary)",
    default: 4096,
    min: 512,
    integer: true,
  }),
  llamacppThreads: numberSetting({
    env: "JUDGE_LLAMACPP_THREADS",
    description: "CPU threads per llama.cpp context; 0: node-llama-cpp's choice (set it on shared machines)",
    default: 0,
    min: 0,
    integer: true,
  }),
  model: stringSetting({
    env: "JUDGE_MODEL",
    description: "judge model used when a request names none (default: the llama.cpp model's name if configured)",
  }),
  cache: stringSetting({
    env: "JUDGE_CACHE",
    description: "where frozen steps and cached scores live: nats (KV bucket), file, memory",
    default: "nats",
    choices: ["nats", "file", "memory"],
  }),
  cacheDir: stringSetting({
    env: "JUDGE_CACHE_DIR",
    description: "folder of the file cache (JUDGE_CACHE=file)",
    default: ".ragtune/judge-cache",
  }),
  kvBucket: stringSetting({
    env: "JUDGE_KV_BUCKET",
    description: "NATS KV bucket of the cache (JUDGE_CACHE=nats)",
    default: "ragtune-judge",
    pattern: /^[A-Za-z0-9_-]+$/,
  }),
  maxAttempts: numberSetting({
    env: "JUDGE_MAX_ATTEMPTS",
    description: "attempts at an unparseable judge output per repeat before it is recorded as failed",
    default: 3,
    min: 1,
    max: 10,
    integer: true,
  }),
  minScoreMass: numberSetting({
    env: "JUDGE_MIN_SCORE_MASS",
    description:
      "SCORING_MODE_LOGPROB_WEIGHTED: least probability mass on the scores 1..5 at the score token; below it the repeat fails",
    default: 0.5,
    min: 0.01,
    max: 1,
  }),
  maxConcurrentRequests: numberSetting({
    env: "JUDGE_MAX_CONCURRENT_REQUESTS",
    description: "LLM requests in flight at once across all calls of this replica",
    default: 64,
    min: 1,
    max: 1024,
    integer: true,
  }),
};
