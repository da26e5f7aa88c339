/**
 * Starts a local nats-server with JetStream when none answers: used by the `ragtune up` launcher and by tests,
 * so a fresh machine needs nothing running by hand.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

export const NATS_INSTALL_HINT = "sudo apt-get install -y nats-server";

export interface LocalNats {
  url: string;
  /** The process we started; undefined when a server already answered. */
  process?: ChildProcess;
  stop(): Promise<void>;
}

export function findNatsServerBinary(env = process.env): string | undefined {
  const dirs = [...(env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin"];
  for (const dir of dirs) {
    const candidate = join(dir, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

export function canConnect(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface StartNatsOptions {
  host?: string;
  /** 0: a free port. */
  port?: number;
  /** JetStream store; default a fresh temp folder removed on stop. */
  storeDir?: string;
  /** Milliseconds to wait for the server to accept connections; default 10000. */
  readyTimeoutMs?: number;
  /** Extra nats-server configuration (auth, TLS, …), written to a file next to the store. */
  config?: string;
}

export async function startNatsServer(options: StartNatsOptions = {}): Promise<LocalNats> {
  const binary = findNatsServerBinary();
  if (!binary) throw new Error(`nats-server not found on PATH; install it with: ${NATS_INSTALL_HINT}`);
  const host = options.host ?? "127.0.0.1";
  const port = options.port || (await freePort(host));
  const ownStore = !options.storeDir;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "ragtune-nats-"));
  const args = ["-a", host, "-p", String(port), "-js", "-sd", storeDir];
  const confDir = options.config === undefined ? undefined : mkdtempSync(join(tmpdir(), "ragtune-nats-conf-"));
  if (confDir) {
    writeFileSync(join(confDir, "nats.conf"), options.config as string, { mode: 0o600 });
    args.push("-c", join(confDir, "nats.conf"));
  }
  const child = spawn(binary, args, {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 10000);
  while (!(await canConnect(host, port))) {
    if (child.exitCode !== null) throw new Error(`nats-server exited (${child.exitCode}): ${stderr.trim()}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`nats-server did not accept connections on ${host}:${port} in time: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://${host}:${port}`,
    process: child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      if (ownStore) rmSync(storeDir, { recursive: true, force: true });
      if (confDir) rmSync(confDir, { recursive: true, force: true });
    },
  };
}

/** Uses the server at `url` when it answers; otherwise starts one there (local addresses only). */
export async function ensureNatsServer(url: string, storeDir?: string): Promise<LocalNats> {
  const first = new URL(
    url
      .split(",")[0]
      .trim()
      .replace(/^nats:/, "http:"),
  );
  const host = first.hostname || "127.0.0.1";
  const port = Number(first.port || 4222);
  if (await canConnect(host, port)) return { url, stop: async () => {} };
  if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) {
    throw new Error(`NATS at ${url} does not answer, and it is not a local address this launcher could start`);
  }
  return startNatsServer({ host: host === "localhost" ? "127.0.0.1" : host, port, storeDir });
}

/**
 * For tests: a NATS server of the test's own on a free port with a temp store, so tests never share state with
 * whatever runs on the machine (and work where nothing runs).
 */
export function startTestNats(): Promise<LocalNats> {
  return startNatsServer();
}
