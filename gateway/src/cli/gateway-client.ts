/**
 * The CLI's connection to a running suite: the gateway at GATEWAY_URL (else the address `npm start` uses), with
 * RAGTUNE_AUTH_TOKEN, and one-line explanations of what went wrong for a person at a terminal.
 */
import type { DescService } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ExperimentService } from "@ragtune/contracts/gateway";
import { HealthCheckResponse_ServingStatus as Status, Health } from "@ragtune/contracts/grpc-health";
import { stackServices } from "../stack.js";

export interface GatewayTarget {
  url: string;
  /** Where the address came from, for messages. */
  from: "GATEWAY_URL" | "the default address";
}

export function gatewayTarget(env: NodeJS.ProcessEnv = process.env): GatewayTarget {
  if (env.GATEWAY_URL) return { url: env.GATEWAY_URL, from: "GATEWAY_URL" };
  const addr = stackServices.find((s) => s.name === "gateway")!.defaultAddr;
  return { url: `http://${addr}`, from: "the default address" };
}

/**
 * A plain gRPC client with the bearer token. Not the runtime's createServiceClient: the CLI is a person's tool, not
 * part of a run, so it needs no tracing, and loading the runtime (telemetry, NATS) made every command seconds slower.
 */
export function cliClient<T extends DescService>(service: T, url: string): Client<T> {
  const token = process.env.RAGTUNE_AUTH_TOKEN;
  return createClient(
    service,
    createGrpcTransport({
      baseUrl: url,
      interceptors: token
        ? [
            (next) => (req) => {
              req.header.set("authorization", `Bearer ${token}`);
              return next(req);
            },
          ]
        : [],
    }),
  );
}

export function gatewayClient(url: string) {
  return cliClient(ExperimentService, url);
}

export type GatewayClient = ReturnType<typeof gatewayClient>;

/** True when a gateway answers health checks at the URL (within a short wait). */
export async function gatewayAnswers(url: string): Promise<boolean> {
  const health = cliClient(Health, url);
  try {
    const res = await health.check({ service: "" }, { timeoutMs: 1500 });
    return res.status === Status.SERVING;
  } catch {
    return false;
  }
}

/** NotFound → NOT_FOUND, as grpcurl and the other languages' clients print codes. */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** True for the errors of a gateway that is not (or no longer) there, rather than one that answered. */
export function isUnreachable(error: unknown): boolean {
  const code = ConnectError.from(error).code;
  return code === Code.Unavailable || code === Code.DeadlineExceeded || code === Code.Canceled;
}

export function unreachableLine(target: GatewayTarget, error: unknown): string {
  const reason = ConnectError.from(error).rawMessage;
  const other = target.from === "GATEWAY_URL" ? "" : "; set GATEWAY_URL for a gateway elsewhere";
  return (
    `no gateway answers at ${target.url} (${target.from}${other}): ${reason}. ` +
    "Start a suite with `npm start` (= `ragtune up`) in another terminal."
  );
}

/** One line for a failed call: what a person at the terminal needs to act on it. */
export function explainGatewayError(target: GatewayTarget, error: unknown): string {
  const e = ConnectError.from(error);
  if (isUnreachable(e)) return unreachableLine(target, e);
  if (e.code === Code.Unauthenticated) {
    return `UNAUTHENTICATED: the gateway at ${target.url} wants its token: set RAGTUNE_AUTH_TOKEN (${e.rawMessage})`;
  }
  return `${codeName(e.code)}: ${e.rawMessage}`;
}
