/**
 * Some of the stack's services, each its own process on a free port, with a NATS of the test's own (or the one
 * given, which is then left running on stop).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stackServices } from "@ragtune/gateway";
import { type LocalStack, startLocalStack } from "@ragtune/gateway/local-stack";
import { type LocalNats, startTestNats } from "@ragtune/runtime";

export interface RunningServices {
  nats: LocalNats;
  stack: LocalStack;
  logs: string[];
  /** Base URL of a started service. */
  url(name: string): string;
  stop(): Promise<void>;
}

export async function startServices(
  names: readonly string[],
  options: { env?: NodeJS.ProcessEnv; nats?: LocalNats } = {},
): Promise<RunningServices> {
  const nats = options.nats ?? (await startTestNats());
  const dataDir = mkdtempSync(join(tmpdir(), "ragtune-services-"));
  const logs: string[] = [];
  const cleanUp = async () => {
    if (!options.nats) await nats.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      env: { ...process.env, ...options.env, NATS_URL: nats.url },
      dataDir,
      anyPort: true,
      services: stackServices.filter((s) => names.includes(s.name)),
      onLog: (service, line) => logs.push(`[${service}] ${line}`),
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }
  return {
    nats,
    stack,
    logs,
    url: (name) => stack.processes.find((p) => p.service.name === name)!.url,
    async stop() {
      await stack.stop();
      await cleanUp();
    },
  };
}
