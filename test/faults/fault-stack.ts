/**
 * The whole stack (NATS, retriever, trainer, node agent, generator, judge, gateway) as processes a test can
 * SIGKILL and start again: every server on a fixed loopback port (so the others find it again where it was),
 * NATS on a fixed port over a store folder that outlives it, one data folder per service that outlives it too.
 * The OpenAI-compatible test double plays the generator's model, the judge's and the hosted fine-tuning API.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type StackService, serviceNodeArgs, stackServices } from "@ragtune/gateway";
import { freePort, type LocalNats, startNatsServer } from "@ragtune/runtime";

export type FaultTarget = StackService["name"] | "nats";
export const FAULT_TARGETS: readonly FaultTarget[] = ["nats", ...stackServices.map((s) => s.name)];

export interface FaultStack {
  dataDir: string;
  url(name: string): string;
  logs: string[];
  /** SIGKILL, then wait until the process is gone. */
  kill(target: FaultTarget): Promise<void>;
  /** Start it again on its port, over its state; resolves once it listens (servers) or has started (agent). */
  restart(target: FaultTarget): Promise<void>;
  stop(): Promise<void>;
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

export async function startFaultStack(env: NodeJS.ProcessEnv): Promise<FaultStack> {
  const dataDir = mkdtempSync(join(tmpdir(), "ragtune-faults-"));
  const natsStore = join(dataDir, "nats");
  mkdirSync(natsStore, { recursive: true });
  const logs: string[] = [];
  const log = (name: string, line: string) => {
    logs.push(`[${name}] ${line}`);
    if (logs.length > 5000) logs.splice(0, 1000);
  };
  const natsPort = await freePort();
  const ports = new Map<string, number>();
  for (const s of stackServices) if (s.kind === "server") ports.set(s.name, await freePort());
  const url = (name: string) =>
    name === "nats" ? `nats://127.0.0.1:${natsPort}` : `http://127.0.0.1:${ports.get(name)}`;

  const serviceEnv = (service: StackService): NodeJS.ProcessEnv => {
    const upper = service.name.toUpperCase();
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, NATS_URL: url("nats"), RAGTUNE_DATA_DIR: dataDir };
    for (const [name, port] of ports) childEnv[`${name.toUpperCase()}_URL`] = `http://127.0.0.1:${port}`;
    if (service.kind === "server") childEnv[`${upper}_ADDR`] = `127.0.0.1:${ports.get(service.name)}`;
    childEnv[`${upper}_DATA_DIR`] = join(dataDir, service.name);
    return childEnv;
  };

  let nats: LocalNats | undefined;
  const running = new Map<string, Running>();

  const startService = (service: StackService) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, serviceNodeArgs(service), {
        env: serviceEnv(service),
        stdio: ["ignore", "pipe", "pipe"],
      });
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      running.set(service.name, { child, exited });
      createInterface({ input: child.stderr! }).on("line", (line) => log(service.name, line));
      // Generous: on 2 shared cores tsx compiling a service from source can take most of a minute.
      const timer = setTimeout(() => reject(new Error(`${service.name} did not start within 120 s`)), 120_000);
      if (service.kind === "agent") {
        clearTimeout(timer);
        resolve();
      }
      createInterface({ input: child.stdout! }).on("line", (line) => {
        log(service.name, line);
        if (line.startsWith("{") && line.includes('"listening"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        if (service.kind === "server") reject(new Error(`${service.name} exited (${code ?? signal}) before listening`));
      });
    });

  const startNats = async () => {
    nats = await startNatsServer({ host: "127.0.0.1", port: natsPort, storeDir: natsStore });
  };

  const kill = async (target: FaultTarget) => {
    if (target === "nats") {
      const child = nats?.process;
      if (child && child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((done) => child.once("exit", done));
        child.kill("SIGKILL");
        await gone;
      }
      return;
    }
    const r = running.get(target);
    if (!r || r.child.exitCode !== null || r.child.signalCode !== null) return;
    r.child.kill("SIGKILL");
    await r.exited;
  };

  const restart = async (target: FaultTarget) => {
    if (target === "nats") return startNats();
    await startService(stackServices.find((s) => s.name === target)!);
  };

  const stop = async () => {
    for (const s of [...stackServices].reverse()) {
      const r = running.get(s.name);
      if (!r || r.child.exitCode !== null || r.child.signalCode !== null) continue;
      r.child.kill("SIGTERM");
      const timer = setTimeout(() => r.child.kill("SIGKILL"), 10_000);
      await r.exited;
      clearTimeout(timer);
    }
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    await startNats();
    for (const service of stackServices) await startService(service);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${logs.slice(-20).join("\n")}`);
  }
  return { dataDir, url, logs, kill, restart, stop };
}
