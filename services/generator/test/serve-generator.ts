/** build() from an environment, served on a real socket on port 0: a deployed generator, minus the process. */
import {
  connectNats,
  createLogger,
  createServiceServer,
  loadConfig,
  type NatsHandle,
  startTestNats,
} from "@ragtune/runtime";
import { generatorSettings } from "../src/config.js";
import { build } from "../src/server.js";

export interface ServedGenerator {
  url: string;
  /** Stops the server, then the backends (the ordered shutdown of runService). */
  close(): Promise<void>;
}

export async function serveGenerator(
  env: Record<string, string>,
  nats: NatsHandle,
  options: { healthIntervalMs?: number } = {},
): Promise<ServedGenerator> {
  const config = loadConfig(generatorSettings, env, []);
  const built = await build({ config, nats, logger: createLogger("generator", { level: "error" }) });
  const server = createServiceServer({
    name: "generator",
    services: built.services,
    readiness: built.readiness,
    ...options,
  });
  const { url } = await server.listen("127.0.0.1:0");
  return {
    url,
    async close() {
      await server.close(1000);
      await built.onShutdown?.();
    },
  };
}

/** A nats-server of the test's own (JetStream, a free port) and a connection to it. */
export async function startNatsForTest(name: string): Promise<{ handle: NatsHandle; stop(): Promise<void> }> {
  const nats = await startTestNats();
  const handle = await connectNats({ url: nats.url, name });
  return {
    handle,
    async stop() {
      await handle.close();
      await nats.stop();
    },
  };
}
