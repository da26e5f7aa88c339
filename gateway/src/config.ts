import { stringSetting, urlSetting } from "@ragtune/runtime";

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
    description: "where split manifests are written; node agents must be able to read it",
    default: ".ragtune/gateway",
  }),
};
