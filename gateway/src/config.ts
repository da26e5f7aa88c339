import { numberSetting, stringSetting, urlSetting } from "@ragtune/runtime";

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
};
