import { booleanSetting, httpUrlSetting, numberSetting, stringSetting } from "@ragtune/runtime";

/** The generator's own settings (the runtime adds GENERATOR_ADDR, NATS_URL, RAGTUNE_AUTH_TOKEN, ...). */
export const generatorSettings = {
  defaultBackend: stringSetting({
    env: "GENERATOR_DEFAULT_BACKEND",
    description: "backend for requests that name none: extractive | openai | llamacpp",
    default: "extractive",
    choices: ["extractive", "openai", "llamacpp"],
  }),
  openaiBaseUrl: httpUrlSetting({
    env: "GENERATOR_OPENAI_BASE_URL",
    description:
      "OpenAI-compatible API root with version (vLLM, Ollama, TGI, llama.cpp server, OpenAI), e.g. http://vllm:8000/v1; empty: no such backend",
  }),
  openaiApiKey: stringSetting({
    env: "GENERATOR_OPENAI_API_KEY",
    description: "bearer token for that API",
    secret: true,
  }),
  openaiApi: stringSetting({
    env: "GENERATOR_OPENAI_API",
    description: "chat (/chat/completions, server applies the chat template) | completion (/completions, plain prompt)",
    default: "chat",
    choices: ["chat", "completion"],
  }),
  openaiTimeoutMs: numberSetting({
    env: "GENERATOR_OPENAI_TIMEOUT_MS",
    description: "per-attempt timeout, ms",
    default: 120_000,
    min: 100,
    integer: true,
  }),
  openaiMaxRetries: numberSetting({
    env: "GENERATOR_OPENAI_MAX_RETRIES",
    description: "retries on 429/5xx/network errors, with backoff",
    default: 3,
    min: 0,
    max: 10,
    integer: true,
  }),
  openaiMaxConcurrency: numberSetting({
    env: "GENERATOR_OPENAI_MAX_CONCURRENCY",
    description: "requests in flight to the backend at once",
    default: 64,
    min: 1,
    max: 4096,
    integer: true,
  }),
  openaiContextWindow: numberSetting({
    env: "GENERATOR_OPENAI_CONTEXT_WINDOW",
    description: "context window assumed when the server does not report max_model_len, tokens",
    default: 8192,
    min: 256,
    integer: true,
  }),
  openaiLoraPathTemplate: stringSetting({
    env: "GENERATOR_OPENAI_LORA_PATH_TEMPLATE",
    description:
      "vLLM run-time LoRA loading: adapter path on the vLLM host, {adapter} replaced by the id; empty: <GENERATOR_OPENAI_ADAPTER_DIR>/{adapter} when that is set, else adapters must be served already",
  }),
  openaiAdapterDir: stringSetting({
    env: "GENERATOR_OPENAI_ADAPTER_DIR",
    description:
      "folder shared with vLLM: an adapter it does not serve yet is unpacked there (<dir>/<adapter>/) from the trainer's archive (the Object Store bucket GENERATOR_READER_ADAPTER_BUCKET, or GENERATOR_READER_ADAPTER_DIR), then loaded; empty: adapters are put there by hand",
  }),
  llamacppModel: stringSetting({
    env: "GENERATOR_LLAMACPP_MODEL",
    description:
      "GGUF file path or URI (hf:user/repo:quant, https://...) for the in-process llama.cpp backend; empty: no such backend",
  }),
  llamacppModelName: stringSetting({
    env: "GENERATOR_LLAMACPP_MODEL_NAME",
    description: "name requests use for that model; default the file name without .gguf",
  }),
  llamacppAdapterDir: stringSetting({
    env: "GENERATOR_LLAMACPP_ADAPTER_DIR",
    description: "directory of GGUF LoRA adapters, <adapter>.gguf",
  }),
  llamacppModelsDir: stringSetting({
    env: "GENERATOR_LLAMACPP_MODELS_DIR",
    description: "where models given by URI are downloaded",
  }),
  llamacppContextSize: numberSetting({
    env: "GENERATOR_LLAMACPP_CONTEXT_SIZE",
    description: "tokens per context; 0: the model's training context, at most 4096",
    default: 0,
    min: 0,
    integer: true,
  }),
  llamacppContexts: numberSetting({
    env: "GENERATOR_LLAMACPP_CONTEXTS",
    description: "contexts alive at once (bounded pool; each holds a KV cache)",
    default: 2,
    min: 1,
    max: 64,
    integer: true,
  }),
  llamacppThreads: numberSetting({
    env: "GENERATOR_LLAMACPP_THREADS",
    description: "CPU threads per context; 0: the math cores llama.cpp detects",
    default: 0,
    min: 0,
    integer: true,
  }),
  llamacppGpu: booleanSetting({
    env: "GENERATOR_LLAMACPP_GPU",
    description: "use a GPU when there is one",
    default: true,
  }),
  llamacppPromptFormat: stringSetting({
    env: "GENERATOR_LLAMACPP_PROMPT_FORMAT",
    description: "completion (plain text, no chat template) | chat (the GGUF's chat template)",
    default: "completion",
    choices: ["completion", "chat"],
  }),
  llamacppTemplate: stringSetting({
    env: "GENERATOR_LLAMACPP_TEMPLATE",
    description: "prompt template when a request names none (rag-compact@1 suits small windows)",
    default: "rag-default@1",
  }),
  readerWeights: stringSetting({
    env: "GENERATOR_READER_WEIGHTS",
    description: "weights file of the base extractive reader; empty: the built-in defaults",
  }),
  readerAdapterDir: stringSetting({
    env: "GENERATOR_READER_ADAPTER_DIR",
    description:
      "directory of the trainer's adapter archives (<adapter>.tar, as AGENT_ADAPTER_DIR; reader adapters also <adapter>.json), for the reader and GENERATOR_OPENAI_ADAPTER_DIR; empty: the NATS Object Store",
  }),
  answerRecordTtlS: numberSetting({
    env: "GENERATOR_ANSWER_RECORD_TTL_S",
    description:
      "how long an answer to a request with an idempotency_key is kept for retries (NATS KV ragtune_generator_answers), s",
    default: 7 * 24 * 3600,
    min: 60,
    integer: true,
  }),
  answerRecordMaxBytes: numberSetting({
    env: "GENERATOR_ANSWER_RECORD_MAX_BYTES",
    description:
      "byte limit of that bucket (when it is full, new answers are not kept and a retry asks the model again)",
    default: 256 * 1024 ** 2,
    min: 1024 ** 2,
    integer: true,
  }),
  readerAdapterBucket: stringSetting({
    env: "GENERATOR_READER_ADAPTER_BUCKET",
    description:
      "NATS Object Store bucket the trainer publishes adapters to, for the reader and GENERATOR_OPENAI_ADAPTER_DIR",
    default: "ragtune-adapters",
  }),
  trainerUrl: stringSetting({
    env: "TRAINER_URL",
    description:
      "the trainer whose adapter records (GetAdapter's sha256) every adapter archive must match before it is served; empty: only the archive's own object metadata is checked, which whoever can replace the object can replace too",
  }),
};
