/** The judge as its main builds it from env settings, served over gRPC on a free local port. */
import { JudgeService } from "@ragtune/contracts/judge";
import { createLogger, createServiceClient, createServiceServer, loadConfig, type NatsHandle } from "@ragtune/runtime";
import { judgeSettings } from "../../src/config.js";
import { build } from "../../src/server.js";

const logger = createLogger("judge-test", { level: "error" });

export interface ServedJudge {
  url: string;
  client: ReturnType<typeof createServiceClient<typeof JudgeService>>;
  /** Stops serving, then releases the judge's backends (a llama.cpp model among them). */
  close(): Promise<void>;
}

export async function serveJudge(nats: NatsHandle, env: Record<string, string>): Promise<ServedJudge> {
  const config = loadConfig(judgeSettings, env, []);
  const built = await build({ config, nats, logger });
  const server = createServiceServer({ name: "judge", services: built.services, logger });
  const { url } = await server.listen("127.0.0.1:0");
  return {
    url,
    client: createServiceClient(JudgeService, url),
    async close() {
      await server.close(100);
      await built.onShutdown?.();
    },
  };
}
