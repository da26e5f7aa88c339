/**
 * Runs a contract's checks against the implementation at a URL. Before the checks, one probe tells apart an
 * address where no gRPC server answers and a server of another contract: both end the run with one line.
 */
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type CheckContext, type CheckResult, type Contract, NotApplicable, NotOffered } from "./check.js";
import { listServices } from "./common-checks.js";
import { codeName } from "./expect.js";
import { generatorContract } from "./generator-checks.js";
import { judgeContract } from "./judge-checks.js";
import { nodeAgentContract } from "./node-agent-checks.js";
import { retrieverContract } from "./retriever-checks.js";
import { trainerContract } from "./trainer-checks.js";

export const CONTRACTS: Readonly<Record<string, Contract>> = {
  judge: judgeContract,
  retriever: retrieverContract,
  generator: generatorContract,
  trainer: trainerContract,
  "node-agent": nodeAgentContract,
};

export interface ConformanceOptions {
  natsUrl?: string;
  /** Headers sent with every call, e.g. authorization. */
  headers?: Record<string, string>;
  /** Only the checks whose name contains this text. */
  only?: string;
  onResult?: (result: CheckResult) => void;
}

export type ConformanceReport =
  | { status: "checked"; results: CheckResult[] }
  /** Nothing answered, or a server of another contract did: `reason` is the one line to print. */
  | { status: "unreachable" | "wrong-contract"; reason: string };

export function createCheckContext(url: string, options: ConformanceOptions = {}): CheckContext {
  const headers = options.headers ?? {};
  const transport = createGrpcTransport({
    baseUrl: url,
    interceptors: [
      (next) => (req) => {
        for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
        return next(req);
      },
    ],
  });
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  let counter = 0;
  return {
    url,
    transport,
    natsUrl: options.natsUrl,
    client: <T extends DescService>(service: T) => createClient(service, transport),
    unique: (prefix) => `${prefix}-${run}-${++counter}`,
  };
}

/** Is a server of this contract at the address? One line saying why not, or undefined. */
async function preflight(contract: Contract, ctx: CheckContext): Promise<ConformanceReport | undefined> {
  try {
    await contract.probe(ctx);
    return undefined;
  } catch (error) {
    const e = ConnectError.from(error);
    if (e.code !== Code.Unimplemented) {
      // A server that answered with a status code is there; the checks will say what is wrong with it.
      if (e.code !== Code.Unavailable && e.code !== Code.DeadlineExceeded && e.code !== Code.Unknown) return undefined;
      return {
        status: "unreachable",
        reason: `no gRPC server answers at ${ctx.url} (${codeName(e.code)}: ${e.rawMessage}); is the ${contract.name} running there?`,
      };
    }
    const others = await listServices(ctx).catch(() => [] as string[]);
    const served = others.filter((s) => !s.startsWith("grpc."));
    return {
      status: "wrong-contract",
      reason:
        `the server at ${ctx.url} does not implement ${contract.service.typeName}` +
        (served.length ? `: it serves ${served.join(", ")}` : ` (${codeName(e.code)}: ${e.rawMessage})`),
    };
  }
}

export async function runConformance(
  contract: Contract,
  url: string,
  options: ConformanceOptions = {},
): Promise<ConformanceReport> {
  const ctx = createCheckContext(url, options);
  const refused = await preflight(contract, ctx);
  if (refused) return refused;
  const results: CheckResult[] = [];
  for (const check of contract.checks) {
    if (options.only && !check.name.includes(options.only)) continue;
    const started = performance.now();
    let outcome: CheckResult["outcome"] = "pass";
    let reason = "";
    try {
      await check.run(ctx);
    } catch (error) {
      if (error instanceof NotOffered || error instanceof NotApplicable) outcome = "skip";
      else outcome = "fail";
      reason = describe(error);
    }
    const result = { name: check.name, outcome, reason, durationMs: performance.now() - started };
    results.push(result);
    options.onResult?.(result);
  }
  return { status: "checked", results };
}

function describe(error: unknown): string {
  if (error instanceof ConnectError) return `${codeName(error.code)}: ${error.rawMessage}`;
  return error instanceof Error ? error.message : String(error);
}

/** `PASS  name`, `FAIL  name — reason`, `SKIP  name — reason`. */
export function formatResult(result: CheckResult): string {
  const label = { pass: "PASS", fail: "FAIL", skip: "SKIP" }[result.outcome];
  return `${label}  ${result.name}${result.reason ? ` — ${result.reason}` : ""}`;
}
