/** Runs one hostile row against a stack and says what was wrong with the answer, if anything. */
import { Code } from "@connectrpc/connect";
import { abuseCases } from "./abuse-cases.js";
import { type CaseContext, type HostileCase, hostileCases, OK } from "./cases.js";
import type { HostileStack } from "./hostile-stack.js";

const codeName = (code: Code) => (code === OK ? "OK" : Code[code]);

export const caseName = (c: HostileCase) =>
  `${c.service} ${c.rpc}: ${c.what} -> ${codeName(c.code)}${c.field ? ` ${c.field}` : ""}`;

/** The problem with the row's answer, or undefined when it got exactly the answer it must get. */
export async function checkCase(c: HostileCase, ctx: CaseContext): Promise<string | undefined> {
  const { code, message } = await c.run(ctx);
  const shown = message.length > 300 ? `${message.slice(0, 300)}…` : message;
  if (code !== c.code) return `expected ${codeName(c.code)}, got ${codeName(code)}: "${shown}"`;
  const prefix = c.field ?? c.messagePrefix;
  if (prefix && !(message.startsWith(prefix) && /^($|[:\s])/.test(message.slice(prefix.length)))) {
    return `${Code[code]} does not say "${prefix}" first: "${shown}"`;
  }
  if (c.mustNotContain && message.includes(c.mustNotContain)) {
    return `the answer echoes "${c.mustNotContain}": "${shown}"`;
  }
  return undefined;
}

/** Every row of the suite: the generated ones, then streams, archives and specs. */
export const allHostileCases = (): HostileCase[] => [...hostileCases(), ...abuseCases()];

export function caseContext(hostile: HostileStack): CaseContext {
  return {
    clients: hostile.clients,
    url: (name) => hostile.services.url(name),
    natsUrl: hostile.services.natsUrl,
    datasetDir: hostile.datasetDir,
    adapterDir: hostile.adapterDir,
  };
}
