/**
 * What deploy/ holds, read for the consistency tests: the Dockerfile's instructions, .dockerignore, the entry
 * script's commands, compose.yaml, the Kubernetes manifests; and what the code reads, from the services' own
 * setting definitions (imported, not copied, so a renamed setting shows up here at once).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { repoRoot, stackServices } from "@ragtune/gateway";
import { commonSettings, type Setting } from "@ragtune/runtime";
import { parse, parseAllDocuments } from "yaml";
import { gatewaySettings } from "../../gateway/src/config.js";
import { generatorSettings } from "../../services/generator/src/config.js";
import { judgeSettings } from "../../services/judge/src/config.js";
import { retrieverSettings } from "../../services/retriever/src/config.js";
import { agentSettings } from "../../services/trainer/src/agent/agent-config.js";
import { trainerSettings } from "../../services/trainer/src/config.js";

export const deployDir = join(repoRoot, "deploy");
export const readRepoFile = (path: string) => readFileSync(join(repoRoot, path), "utf8");

// --- what the code reads ---------------------------------------------------------------------------------------

/** A process the image runs: a server, the node agent, or the CLI. */
export type ProcessName = "retriever" | "trainer" | "generator" | "judge" | "gateway" | "agent" | "ragtune";

const settingNames = (spec: Record<string, Setting<any>>) => Object.values(spec).map((setting) => setting.env);

/** OTEL_* variables packages/runtime/src/telemetry.ts reads (every server and the node agent call initTelemetry). */
export const telemetryEnv = [
  ...new Set(
    [...readRepoFile("packages/runtime/src/telemetry.ts").matchAll(/\benv\.(OTEL_[A-Z0-9_]+)/g)].map((m) => m[1]),
  ),
];

/**
 * Read by transformers / huggingface_hub in services/trainer/python/peft_runner.py, which the agent's PEFT executor
 * starts with the agent's own environment (executors/peft.ts: `{ ...process.env, … }`).
 */
export const peftRunnerEnv = ["HF_TOKEN", "HF_HOME"];

/** `process.env.NAME` in the CLI's sources, plus `<SERVICE>_URL` per server, which `ragtune status` reads. */
function cliEnv(): string[] {
  const dir = join(repoRoot, "gateway/src/cli");
  const names = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    for (const m of readFileSync(join(dir, file), "utf8").matchAll(/process\.env\.([A-Z0-9_]+)/g)) names.add(m[1]);
  }
  for (const service of stackServices) if (service.kind === "server") names.add(`${service.name.toUpperCase()}_URL`);
  return [...names];
}

const serverSettings: Record<string, Record<string, Setting<any>>> = {
  retriever: retrieverSettings,
  trainer: trainerSettings,
  generator: generatorSettings,
  judge: judgeSettings,
  gateway: gatewaySettings,
};

/** Every environment variable each process reads. */
export const readEnv: Record<ProcessName, ReadonlySet<string>> = {
  ...(Object.fromEntries(
    Object.entries(serverSettings).map(([name, spec]) => [
      name,
      new Set([...settingNames(commonSettings(name)), ...settingNames(spec), ...telemetryEnv]),
    ]),
  ) as Record<"retriever" | "trainer" | "generator" | "judge" | "gateway", Set<string>>),
  agent: new Set([...settingNames(agentSettings), ...peftRunnerEnv, ...telemetryEnv]),
  ragtune: new Set(cliEnv()),
};

export const serverNames = stackServices.filter((s) => s.kind === "server").map((s) => s.name);
export const isServer = (process: string) => serverNames.includes(process as never);
export const addrEnv = (service: string) => `${service.toUpperCase()}_ADDR`;
export const urlEnvTarget = (name: string) => serverNames.find((s) => `${s.toUpperCase()}_URL` === name);

/** host and port of a host:port address (as the runtime's addressSetting accepts it). */
export function splitAddress(address: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  if (!match) throw new Error(`"${address}" is not host:port`);
  return { host: match[1], port: Number(match[2]) };
}

/** host and port of a URL, with the scheme's default port. */
export function splitUrl(url: string): { protocol: string; host: string; port: number } {
  const parsed = new URL(url);
  const defaults: Record<string, number> = { "http:": 80, "https:": 443, "nats:": 4222 };
  return {
    protocol: parsed.protocol,
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : defaults[parsed.protocol],
  };
}

// --- Dockerfile and .dockerignore ---------------------------------------------------------------------------------

export interface Instruction {
  /** The stage it belongs to ("" before the first FROM). */
  stage: string;
  keyword: string;
  args: string;
  line: number;
}

/** Instructions with line continuations joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = "";
  let buffer = "";
  let start = 0;
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line.startsWith("#") || (!buffer && line === "")) return;
    if (!buffer) start = index + 1;
    const continued = line.endsWith("\\");
    buffer += `${buffer ? " " : ""}${continued ? line.slice(0, -1).trim() : line}`;
    if (continued) return;
    const match = /^(\w+)\s+([\s\S]*)$/.exec(buffer);
    if (!match) throw new Error(`Dockerfile line ${start}: cannot parse "${buffer}"`);
    const keyword = match[1].toUpperCase();
    if (keyword === "FROM") stage = /\sAS\s+(\S+)/i.exec(match[2])?.[1] ?? "";
    out.push({ stage, keyword, args: match[2], line: start });
    buffer = "";
  });
  return out;
}

/** A COPY's flags, sources and destination (shell form). */
export function parseCopy(args: string): { from?: string; sources: string[]; dest: string } {
  const tokens = args.split(/\s+/).filter(Boolean);
  const flags = tokens.filter((t) => t.startsWith("--"));
  const paths = tokens.filter((t) => !t.startsWith("--"));
  const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
  return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1] };
}

/** Docker's .dockerignore semantics: patterns from the context root, `**` any depth, `!` re-includes, last wins. */
export function createDockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const negate = line.startsWith("!");
      const pattern = (negate ? line.slice(1) : line).replace(/^\/+/, "").replace(/\/+$/, "");
      const source = pattern
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) => {
          if (part === "**/") return "(?:.*/)?";
          if (part === "**") return ".*";
          if (part === "*") return "[^/]*";
          if (part === "?") return "[^/]";
          return part.replace(/[.+^${}()|[\]\\]/g, "\\$&");
        })
        .join("");
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    const parts = path.replace(/^\.\//, "").split("/");
    // A path is excluded when it, or a folder above it, matches.
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let excluded = false;
    for (const rule of rules) if (candidates.some((c) => rule.regex.test(c))) excluded = !rule.negate;
    return excluded;
  };
}

/** The workspace folders of the root package.json (its globs expanded one level, as npm does for `dir/*`). */
export function workspaceDirs(): string[] {
  const root = JSON.parse(readRepoFile("package.json")) as { workspaces: string[] };
  return root.workspaces.flatMap((pattern) => {
    if (!pattern.endsWith("/*")) return [pattern];
    const parent = pattern.slice(0, -2);
    return readdirSync(join(repoRoot, parent))
      .map((name) => `${parent}/${name}`)
      .filter((dir) => statSync(join(repoRoot, dir)).isDirectory() && exists(`${dir}/package.json`));
  });
}

export function exists(path: string): boolean {
  try {
    statSync(join(repoRoot, path));
    return true;
  } catch {
    return false;
  }
}

// --- deploy/entrypoint.sh -----------------------------------------------------------------------------------------

/** The entry script's `name) entry=path ;;` arms. */
export function entrypointCommands(): Map<string, string> {
  const text = readRepoFile("deploy/entrypoint.sh");
  return new Map([...text.matchAll(/^\s*([a-z][a-z-]*)\)\s*entry=(\S+)\s*;;/gm)].map((m) => [m[1], m[2]]));
}

export const stackEntry = (name: string) => {
  const service = stackServices.find((s) => s.name === name);
  return service ? relative(repoRoot, service.entry) : undefined;
};

// --- YAML -----------------------------------------------------------------------------------------------------------

/** compose.yaml as Compose reads it: anchors and `<<` merge keys resolved. */
export function loadCompose(): any {
  return parse(readRepoFile("deploy/compose.yaml"), { merge: true });
}

export interface K8sObject {
  file: string;
  kind: string;
  metadata: { name?: string; generateName?: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: any;
}

/** Every YAML file under deploy/k8s, relative to it. */
export function k8sFiles(dir = join(deployDir, "k8s")): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return k8sFiles(path);
    return /\.ya?ml$/.test(name) ? [relative(join(deployDir, "k8s"), path)] : [];
  });
}

export function loadYamlDocuments(k8sPath: string): K8sObject[] {
  const text = readFileSync(join(deployDir, "k8s", k8sPath), "utf8");
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length) throw new Error(`${k8sPath}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value = doc.toJS();
    return value ? [{ ...value, file: k8sPath }] : [];
  });
}
