import { numberSetting, stringSetting, urlSetting } from "@ragtune/runtime";
import { datasetAccessSettings } from "./experiments/dataset-access.js";

export const gatewaySettings = {
  retrieverUrl: urlSetting({
    env: "RETRIEVER_URL",
    description: "retriever base URL",
    default: "http://127.0.0.1:50051",
  }),
  trainerUrl: urlSetting({ env: "TRAINER_URL", description: "trainer base URL", default: "http://127.0.0.1:50052" }),
  generatorUrl: urlSetting({
    env: "GENERATOR_URL",
    description: "generator base URL",
    default: "http://127.0.0.1:50053",
  }),
  judgeUrl: urlSetting({ env: "JUDGE_URL", description: "judge base URL", default: "http://127.0.0.1:50054" }),
  workDir: stringSetting({
    env: "GATEWAY_DATA_DIR",
    description: "where a local record of each split manifest is written (agents read them from NATS)",
    default: ".ragtune/gateway",
  }),
  leaseTtlMs: numberSetting({
    env: "GATEWAY_LEASE_TTL_MS",
    description:
      "how long an experiment's lease outlives its gateway replica, ms: another replica adopts the run after it",
    default: 15_000,
    min: 1000,
    integer: true,
  }),
  callTimeoutMs: numberSetting({
    env: "GATEWAY_CALL_TIMEOUT_MS",
    description: "deadline of each call to the retriever, generator, judge and trainer (one attempt), ms",
    default: 300_000,
    min: 100,
    integer: true,
  }),
  streamTimeoutMs: numberSetting({
    env: "GATEWAY_STREAM_TIMEOUT_MS",
    description: "deadline of each streaming call (an ingest, a fine-tune job's watch, which is then re-attached), ms",
    default: 3_600_000,
    min: 100,
    integer: true,
  }),
  retryAttempts: numberSetting({
    env: "GATEWAY_RETRY_ATTEMPTS",
    description:
      "attempts per call that failed UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED or CANCELED, first included",
    default: 30,
    min: 1,
    integer: true,
  }),
  retryBaseMs: numberSetting({
    env: "GATEWAY_RETRY_BASE_MS",
    description: "backoff before the first retry, ms; doubles per retry, with full jitter",
    default: 200,
    min: 1,
    integer: true,
  }),
  retryMaxMs: numberSetting({
    env: "GATEWAY_RETRY_MAX_MS",
    description: "longest backoff between two attempts, ms",
    default: 10_000,
    min: 1,
    integer: true,
  }),
  retryTotalMs: numberSetting({
    env: "GATEWAY_RETRY_TOTAL_MS",
    description: "no retry of a call starts later than this after its first attempt, ms",
    default: 120_000,
    min: 1,
    integer: true,
  }),
  maxAdoptions: numberSetting({
    env: "GATEWAY_MAX_ADOPTIONS",
    description: "adoptions of a run from a gateway that stopped mid-run, without a finished cell, before it fails",
    default: 3,
    min: 1,
    integer: true,
  }),
  ...datasetAccessSettings,
};
