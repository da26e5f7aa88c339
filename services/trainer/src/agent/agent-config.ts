import { httpUrlSetting, numberSetting, stringSetting, workerSettings } from "@ragtune/runtime";

/**
 * The agent's own settings (env, or flags such as --trainer-url); the runtime's worker adds NATS_URL (nats-obj://
 * manifests, the adapter Object Store) and RAGTUNE_LOG_LEVEL.
 */
export const agentOwnSettings = {
  trainerUrl: httpUrlSetting({
    env: "TRAINER_URL",
    description: "the trainer's gRPC base URL, e.g. http://127.0.0.1:7400",
  }),
  nodeId: stringSetting({
    env: "AGENT_NODE_ID",
    description: "node id (default: the host name)",
    pattern: /^[A-Za-z0-9._-]{1,128}$/,
  }),
  executors: stringSetting({
    env: "AGENT_EXECUTORS",
    description:
      "comma-separated executors: cpu-reader, peft, openai (default: cpu-reader, plus peft with GPUs, plus openai with OPENAI_API_KEY)",
    pattern: /^(cpu-reader|peft|openai)(,(cpu-reader|peft|openai))*$/,
  }),
  adapterDir: stringSetting({
    env: "AGENT_ADAPTER_DIR",
    description: "store adapters in this directory instead of the NATS Object Store",
  }),
  adapterBucket: stringSetting({
    env: "AGENT_ADAPTER_BUCKET",
    description: "NATS Object Store bucket for adapters",
    default: "ragtune-adapters",
  }),
  sharedGpus: stringSetting({
    env: "AGENT_SHARED_GPUS",
    description:
      "comma-separated indices of this node's GPUs that another workload shares (e.g. a vLLM server): reported as shared, they take the back of the trainer's queue",
    pattern: /^\d{1,3}(,\d{1,3})*$/,
  }),
  workDir: stringSetting({
    env: "AGENT_WORK_DIR",
    description: "scratch space for running jobs (default: the temp dir)",
  }),
  python: stringSetting({
    env: "AGENT_PYTHON",
    description: "Python with torch, transformers and peft",
    default: "python3",
  }),
  killGraceMs: numberSetting({
    env: "AGENT_KILL_GRACE_MS",
    description: "how long a cancelled training process group has after SIGTERM before SIGKILL, ms",
    default: 10_000,
    min: 0,
    max: 600_000,
    integer: true,
  }),
  openaiBaseUrl: httpUrlSetting({
    env: "OPENAI_BASE_URL",
    description: "OpenAI-compatible API base URL for hosted fine-tuning",
  }),
  openaiPollMs: numberSetting({
    env: "AGENT_OPENAI_POLL_MS",
    description: "how often a hosted fine-tuning job's status is polled, ms",
    default: 10_000,
    min: 1,
    integer: true,
  }),
  openaiApiKey: stringSetting({ env: "OPENAI_API_KEY", description: "API key for hosted fine-tuning", secret: true }),
  agentToken: stringSetting({
    env: "RAGTUNE_AGENT_TOKEN",
    description: "this node's own credential for the trainer (ragtune-node:<node id>:<hmac>; deploy/README.md)",
    secret: true,
  }),
  authToken: stringSetting({
    env: "RAGTUNE_AUTH_TOKEN",
    description:
      "the trainer's shared token, from which the agent derives its node credential (prefer RAGTUNE_AGENT_TOKEN)",
    secret: true,
  }),
};

/** Every setting the agent process reads. */
export const agentSettings = { ...workerSettings(), ...agentOwnSettings };
