/**
 * `ragtune up`: NATS (started when none answers), then every service on its own port; stops all of it on
 * Ctrl-C or SIGTERM, in reverse order.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { ensureNatsServer, type LocalNats } from "@ragtune/runtime";
import { type StackService, serviceNodeArgs, stackServices } from "../stack.js";

export interface RunningProcess {
  service: StackService;
  child: ChildProcess;
  url: string;
}

export interface LocalStack {
  natsUrl: string;
  processes: RunningProcess[];
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  env?: NodeJS.ProcessEnv;
  /** Directory for embedded state (vector store, NATS store); default .ragtune in the working directory. */
  dataDir?: string;
  /** Listen on free ports rather than the defaults (tests). */
  anyPort?: boolean;
  services?: readonly StackService[];
  onLog?: (service: string, line: string) => void;
  startTimeoutMs?: number;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const env = { ...(options.env ?? process.env) };
  const natsUrl = env.NATS_URL || "nats://127.0.0.1:4222";
  const nats: LocalNats = await ensureNatsServer(natsUrl, options.dataDir ? `${options.dataDir}/nats` : undefined);
  const processes: RunningProcess[] = [];
  const stop = async () => {
    for (const p of [...processes].reverse()) await stopProcess(p.child);
    await nats.stop();
  };
  try {
    const urls: Record<string, string> = {};
    for (const service of options.services ?? stackServices) {
      const upper = service.name.toUpperCase();
      const childEnv: NodeJS.ProcessEnv = {
        ...env,
        NATS_URL: nats.url,
        ...Object.fromEntries(Object.entries(urls).map(([name, url]) => [`${name.toUpperCase()}_URL`, url])),
      };
      if (service.kind === "server") {
        childEnv[`${upper}_ADDR`] = options.anyPort ? "127.0.0.1:0" : env[`${upper}_ADDR`] || service.defaultAddr;
      }
      if (options.dataDir) {
        // Each service keeps its embedded state in a folder of its own under the stack's data directory.
        childEnv.RAGTUNE_DATA_DIR ??= options.dataDir;
        childEnv[`${upper}_DATA_DIR`] ??= `${options.dataDir}/${service.name}`;
      }
      const running = await startProcess(service, childEnv, options);
      processes.push(running);
      if (running.url) urls[service.name] = running.url;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { natsUrl: nats.url, processes, stop };
}

function startProcess(service: StackService, env: NodeJS.ProcessEnv, options: LocalStackOptions) {
  const child = spawn(process.execPath, serviceNodeArgs(service), { env, stdio: ["ignore", "pipe", "pipe"] });
  const log = options.onLog ?? (() => {});
  createInterface({ input: child.stderr! }).on("line", (line) => log(service.name, line));
  if (service.kind === "agent") {
    createInterface({ input: child.stdout! }).on("line", (line) => log(service.name, line));
    return Promise.resolve({ service, child, url: "" });
  }
  return new Promise<RunningProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${service.name} did not start within ${options.startTimeoutMs ?? 60000} ms`));
    }, options.startTimeoutMs ?? 60000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return log(service.name, line);
      try {
        const event = JSON.parse(line) as { event?: string; url?: string };
        if (event.event === "listening" && event.url) {
          clearTimeout(timer);
          resolve({ service, child, url: event.url });
        }
      } catch {
        log(service.name, line);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${service.name} exited with code ${code} before listening`));
    });
  });
}

async function stopProcess(child: ChildProcess, graceMs = 12_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
