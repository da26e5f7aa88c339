/** The processes of a ragtune deployment, their default local addresses and entry points. */
import { fileURLToPath } from "node:url";

export interface StackService {
  /** Short name; env prefix (RETRIEVER_ADDR) and log name. */
  name: "retriever" | "trainer" | "agent" | "generator" | "judge" | "gateway";
  /** A server prints its address when it listens; an agent serves nothing and counts as started once spawned. */
  kind: "server" | "agent";
  /** Default listening address of the local stack. */
  defaultAddr: string;
  /** Entry module, run through tsx (see tsxNodeArgs). */
  entry: string;
}

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Node arguments that run an entry module through tsx. tsx is passed by its resolved URL: a bare `--import tsx`
 * is resolved from the working directory, which breaks `ragtune` run from outside the repository.
 */
export function tsxNodeArgs(entry: string): string[] {
  return ["--import", import.meta.resolve("tsx"), entry];
}

export const stackServices: readonly StackService[] = [
  {
    name: "retriever",
    kind: "server",
    defaultAddr: "127.0.0.1:50051",
    entry: `${repoRoot}services/retriever/src/main.ts`,
  },
  { name: "trainer", kind: "server", defaultAddr: "127.0.0.1:50052", entry: `${repoRoot}services/trainer/src/main.ts` },
  // A CPU node agent, so the embedded default experiment has a node to fine-tune its reader on.
  { name: "agent", kind: "agent", defaultAddr: "", entry: `${repoRoot}services/trainer/src/agent-main.ts` },
  {
    name: "generator",
    kind: "server",
    defaultAddr: "127.0.0.1:50053",
    entry: `${repoRoot}services/generator/src/main.ts`,
  },
  { name: "judge", kind: "server", defaultAddr: "127.0.0.1:50054", entry: `${repoRoot}services/judge/src/main.ts` },
  { name: "gateway", kind: "server", defaultAddr: "127.0.0.1:50050", entry: `${repoRoot}gateway/src/main.ts` },
];

export const serverServices = stackServices.filter((s) => s.kind === "server");

export { repoRoot };
