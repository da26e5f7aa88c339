/**
 * Child processes that may hold a GPU: each runs as the leader of its own process group (detached), so stopping
 * it reaches whatever it started too (data-loader workers, a grandchild that outlives its parent). A stop sends
 * SIGTERM to the whole group, SIGKILL after a grace period, and resolves only once no member of the group is
 * left: only then may the agent say the job's slot is free.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";

/** Variables a training child may see; everything else (the agent's auth token, API keys, NATS credentials) stays out. */
const PASSED_NAMES = new Set(["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "LD_LIBRARY_PATH", "USER"]);
const PASSED_PREFIXES = ["CUDA_", "HF_", "PYTHON", "NVIDIA_", "LC_"];

/**
 * The explicit environment of a training child: PATH, HOME, locale, TMPDIR, LD_LIBRARY_PATH, and CUDA_*, HF_*
 * (HF_TOKEN included: the runner's own credential for gated model weights), PYTHON*, NVIDIA_* from `source`,
 * plus `extra`.
 */
export function childEnvironment(
  source: NodeJS.ProcessEnv = process.env,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (PASSED_NAMES.has(name) || PASSED_PREFIXES.some((prefix) => name.startsWith(prefix))) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Starts `command` as the leader of a new process group, with stdout and stderr piped. */
export function spawnGroupLeader(command: string, args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Members of the group that are not zombies (Linux /proc); undefined where /proc cannot be read. */
async function liveMembers(pgid: number): Promise<number | undefined> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return undefined;
  }
  let live = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so read after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z") live++;
  }
  return live;
}

/** True while any process of the group is alive. */
export async function groupAlive(pgid: number): Promise<boolean> {
  const live = await liveMembers(pgid);
  if (live !== undefined) return live > 0;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

async function waitGone(pgid: number, deadlineMs: number): Promise<boolean> {
  for (;;) {
    if (!(await groupAlive(pgid))) return true;
    if (performance.now() >= deadlineMs) return false;
    await sleep(50);
  }
}

/**
 * SIGTERM to the group, SIGKILL to whatever is left after `graceMs`; resolves once the group is gone. Returns
 * whether SIGKILL was needed.
 */
export async function stopProcessGroup(pgid: number, graceMs: number): Promise<boolean> {
  if (!(await groupAlive(pgid))) return false;
  signalGroup(pgid, "SIGTERM");
  if (await waitGone(pgid, performance.now() + graceMs)) return false;
  signalGroup(pgid, "SIGKILL");
  // SIGKILL cannot be ignored; the wait covers the kernel tearing the processes down.
  await waitGone(pgid, Number.POSITIVE_INFINITY);
  return true;
}
