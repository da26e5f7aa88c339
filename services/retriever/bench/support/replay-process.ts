import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { CollectionSpec, ScoredChunk } from "../../src/backend/vector-store-backend.js";

export interface ReplayProcess {
  url: string;
  stop(): Promise<void>;
}

/** Runs replay-server.ts as its own process, serving `results` (query text → hits) for the collection `spec`. */
export async function startReplayProcess(
  file: string,
  spec: CollectionSpec,
  results: Map<string, ScoredChunk[]>,
): Promise<ReplayProcess> {
  await writeFile(file, JSON.stringify({ spec, results: [...results] }));
  const script = join(fileURLToPath(import.meta.url), "../replay-server.ts");
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", script], {
    env: { ...process.env, REPLAY_FILE: file, RAGTUNE_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line.includes('"listening"')) return { url: JSON.parse(line).url, stop };
  }
  await stop();
  throw new Error("the replay process did not start");
}
