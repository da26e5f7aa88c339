/** The processes of a ragtune deployment, their default local addresses and entry points. */
import { fileURLToPath } from "node:url";

export interface StackService {
  /** Short name; env prefix (RETRIEVER_ADDR) and log name. */
  name: "retriever" | "trainer" | "agent" | "generator" | "judge" | "gateway";
  /** A server prints its address when it listens; an agent serves nothing and counts as started once spawned. */
  kind: "server" | "agent";
  /** Default listening address of the local stack. */
  defaultAddr: string;
  /** Entry module as emitted by `npm run build` (dist/…js): what production runs. */
  entry: string;
  /** The TypeScript source of entry (src/…ts), run through tsx when the launcher itself runs from source. */
  source: string;
}

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/**
 * True when this module runs as TypeScript (tests, `--conditions=development --import tsx`): the launcher then
 * starts the services from source too, so a test never runs stale emitted code. Emitted code starts emitted code.
 */
const runsFromSource = import.meta.url.endsWith(".ts");

/**
 * Node arguments that start a service. From source: tsx by its resolved URL (a bare `--import tsx` is resolved
 * from the working directory, which breaks `ragtune` run from outside the repository) and the "development"
 * export condition, so that the workspace packages resolve to their src/ too.
 */
export function serviceNodeArgs(service: StackService): string[] {
  if (!runsFromSource) return [service.entry];
  return ["--conditions=development", "--import", import.meta.resolve("tsx"), service.source];
}

/** A process whose entry is <dir>/src/<file>.ts, emitted to <dir>/dist/<file>.js. */
function stackService(
  name: StackService["name"],
  kind: StackService["kind"],
  defaultAddr: string,
  dir: string,
  file = "main",
): StackService {
  return {
    name,
    kind,
    defaultAddr,
    entry: `${repoRoot}${dir}/dist/${file}.js`,
    source: `${repoRoot}${dir}/src/${file}.ts`,
  };
}

export const stackServices: readonly StackService[] = [
  stackService("retriever", "server", "127.0.0.1:50051", "services/retriever"),
  stackService("trainer", "server", "127.0.0.1:50052", "services/trainer"),
  // A CPU node agent, so the embedded default experiment has a node to fine-tune its reader on.
  stackService("agent", "agent", "", "services/trainer", "agent-main"),
  stackService("generator", "server", "127.0.0.1:50053", "services/generator"),
  stackService("judge", "server", "127.0.0.1:50054", "services/judge"),
  stackService("gateway", "server", "127.0.0.1:50050", "gateway"),
];

export const serverServices = stackServices.filter((s) => s.kind === "server");

export { repoRoot };
