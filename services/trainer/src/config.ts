import { numberSetting, stringSetting } from "@ragtune/runtime";
import { manifestSettings } from "./manifest-access.js";

/** The trainer's own settings (the runtime adds TRAINER_ADDR, NATS_URL, auth, shutdown, log level). */
export const trainerSettings = {
  heartbeatIntervalMs: numberSetting({
    env: "TRAINER_HEARTBEAT_INTERVAL_MS",
    description: "heartbeat period agents must keep, ms; a node silent for 3 periods is lost",
    default: 5000,
    min: 100,
    max: 600_000,
    integer: true,
  }),
  placement: stringSetting({
    env: "TRAINER_PLACEMENT",
    description: "placement strategy: best-fit (by estimated GPU memory) or first-fit",
    default: "best-fit",
    choices: ["best-fit", "first-fit"],
  }),
  retryBaseMs: numberSetting({
    env: "TRAINER_RETRY_BASE_MS",
    description: "backoff before the first retry of a transient failure, ms (doubles per retry)",
    default: 5000,
    min: 0,
    integer: true,
  }),
  retryMaxMs: numberSetting({
    env: "TRAINER_RETRY_MAX_MS",
    description: "longest backoff between retries, ms",
    default: 300_000,
    min: 0,
    integer: true,
  }),
  maxLostAttempts: numberSetting({
    env: "TRAINER_MAX_LOST_ATTEMPTS",
    description: "attempts a job may lose to lost nodes (crashed or silent agents); one more fails it",
    default: 3,
    min: 0,
    max: 100,
    integer: true,
  }),
  bucketPrefix: stringSetting({
    env: "TRAINER_BUCKET_PREFIX",
    description: "prefix of the KV buckets holding jobs, nodes and adapters",
    default: "ragtune_trainer",
    pattern: /^[A-Za-z0-9_-]+$/,
  }),
  kvReplicas: numberSetting({
    env: "TRAINER_KV_REPLICAS",
    description: "copies of the trainer's KV buckets on a NATS cluster (1 on a single server)",
    default: 1,
    min: 1,
    max: 5,
    integer: true,
  }),
  ...manifestSettings,
};
