/** Starts the whole local stack for an end-to-end test: its own NATS on a free port, every service on a free port. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalStack, type LocalStack } from "@ragtune/gateway/local-stack";
import { type LocalNats, startTestNats } from "@ragtune/runtime";

export interface TestStack extends LocalStack {
  dataDir: string;
  /** host:port of each service, for clients that take a target rather than a URL. */
  targets: Record<string, string>;
  logs: string[];
}

export async function startTestStack(
  env: NodeJS.ProcessEnv = {},
  options: { startTimeoutMs?: number } = {},
): Promise<TestStack> {
  const nats: LocalNats = await startTestNats();
  const dataDir = mkdtempSync(join(tmpdir(), "ragtune-e2e-"));
  const logs: string[] = [];
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      // Tests write their datasets into the stack's own folder: the gateway reads datasets there.
      env: { ...process.env, GATEWAY_DATA_ROOTS: dataDir, ...env, NATS_URL: nats.url, RAGTUNE_DATA_DIR: dataDir },
      dataDir,
      anyPort: true,
      startTimeoutMs: options.startTimeoutMs,
      onLog: (service, line) => logs.push(`[${service}] ${line}`),
    });
  } catch (error) {
    await nats.stop();
    throw new Error(`${(error as Error).message}\n${logs.slice(-20).join("\n")}`);
  }
  const targets = Object.fromEntries(
    stack.processes.filter((p) => p.url).map((p) => [p.service.name, p.url.replace(/^http:\/\//, "")]),
  );
  return {
    ...stack,
    dataDir,
    targets,
    logs,
    async stop() {
      await stack.stop();
      await nats.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
