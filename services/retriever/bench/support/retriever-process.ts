import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { type LocalNats, startTestNats } from "@ragtune/runtime";

export interface RetrieverProcess {
  url: string;
  child: ChildProcess;
  /** Resident and peak resident memory of the process, MB (Linux /proc). */
  memory(): { rssMb: number; peakMb: number };
  stop(): Promise<void>;
}

/** Runs src/main.ts as its own process (with a NATS server of its own), as it runs in production. */
export async function startRetrieverProcess(env: Record<string, string>): Promise<RetrieverProcess> {
  const nats: LocalNats = await startTestNats();
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: { ...process.env, NATS_URL: nats.url, RETRIEVER_ADDR: "127.0.0.1:0", RAGTUNE_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    await nats.stop();
  };
  let url: string | undefined;
  for await (const line of createInterface({ input: child.stdout! })) {
    if (line.includes('"listening"')) {
      url = JSON.parse(line).url;
      break;
    }
  }
  if (!url) {
    await stop();
    throw new Error("the retriever process did not start");
  }
  return {
    url,
    child,
    memory() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
      return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
    },
    stop,
  };
}
