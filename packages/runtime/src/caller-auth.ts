/**
 * Who is calling: the shared service token (services and operators), or a node agent's own credential, bound to
 * its node id so that one agent cannot act as another. A node credential is
 * `ragtune-node:<node id>:<hex HMAC-SHA256(auth token, "ragtune-node:<node id>")>`, so the server checks it
 * without a list, and an operator makes one without ragtune:
 *   printf 'ragtune-node:%s' "$NODE" | openssl dgst -sha256 -hmac "$RAGTUNE_AUTH_TOKEN" -r
 */
import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { createHmac, timingSafeEqual } from "node:crypto";

export type Caller = { kind: "service" } | { kind: "node"; nodeId: string };

/** The authenticated caller of an RPC; undefined when the server runs without auth. */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "ragtune caller" });

const NODE_PREFIX = "ragtune-node";
const NODE_ID = /^[A-Za-z0-9._-]{1,128}$/;

function nodeMac(secret: string, nodeId: string): string {
  return createHmac("sha256", secret).update(`${NODE_PREFIX}:${nodeId}`).digest("hex");
}

/** The node agent credential for `nodeId`, derived from the trainer's auth token. */
export function deriveNodeToken(secret: string, nodeId: string): string {
  if (!NODE_ID.test(nodeId)) throw new Error(`node id "${nodeId}" must match ${NODE_ID}`);
  return `${NODE_PREFIX}:${nodeId}:${nodeMac(secret, nodeId)}`;
}

/** The node id a credential names, whether or not it is genuine (the agent checks it against its own). */
export function nodeIdOfToken(token: string): string | undefined {
  const parts = token.split(":");
  return parts.length === 3 && parts[0] === NODE_PREFIX && NODE_ID.test(parts[1]) ? parts[1] : undefined;
}

/** The node id when the credential was made with `secret`; undefined otherwise. */
export function verifyNodeToken(secret: string, token: string): string | undefined {
  const nodeId = nodeIdOfToken(token);
  if (nodeId === undefined) return undefined;
  const given = Buffer.from(token.slice(token.lastIndexOf(":") + 1));
  const expected = Buffer.from(nodeMac(secret, nodeId));
  return given.length === expected.length && timingSafeEqual(given, expected) ? nodeId : undefined;
}

function sameSecret(given: string, expected: Buffer): boolean {
  const bytes = Buffer.from(given);
  return bytes.length === expected.length && timingSafeEqual(bytes, expected);
}

export interface CallerAuthOptions {
  /** The service token; node credentials are derived from it. */
  token: string;
  /** "<service type name>/<method name>" of the RPCs node agents may call; every other RPC refuses them. */
  nodeMethods?: Iterable<string>;
}

/**
 * Every RPC but health checks needs `authorization: Bearer <token>`: the service token, or a node credential on
 * the RPCs open to node agents. The caller is put in the handler's context values under callerKey.
 */
export function createCallerAuthInterceptor(options: CallerAuthOptions): Interceptor {
  const serviceToken = Buffer.from(options.token);
  const nodeMethods = new Set(options.nodeMethods ?? []);
  return (next) => async (req) => {
    if (req.service.typeName === "grpc.health.v1.Health") return next(req);
    const header = req.header.get("authorization") ?? "";
    const bearer = header.startsWith("Bearer ") ? header.slice(7) : "";
    if (sameSecret(bearer, serviceToken)) {
      req.contextValues.set(callerKey, { kind: "service" });
      return next(req);
    }
    const nodeId = verifyNodeToken(options.token, bearer);
    if (nodeId === undefined) throw new ConnectError("missing or wrong bearer token", Code.Unauthenticated);
    if (!nodeMethods.has(`${req.service.typeName}/${req.method.name}`)) {
      throw new ConnectError(
        `node ${nodeId}'s credential may call only the node agent RPCs, not ${req.method.name}`,
        Code.PermissionDenied,
      );
    }
    req.contextValues.set(callerKey, { kind: "node", nodeId });
    return next(req);
  };
}

/**
 * For the RPCs of node agents: the caller must be the node the request names. Without auth (no caller) every
 * node id is allowed; the service token is not a node's credential.
 */
export function requireNodeCaller(context: HandlerContext, nodeId: string): void {
  const caller = context.values.get(callerKey);
  if (caller === undefined) return;
  if (caller.kind !== "node") {
    throw new ConnectError(
      `acting as node ${nodeId} needs that node's own credential (RAGTUNE_AGENT_TOKEN), not the service token`,
      Code.PermissionDenied,
    );
  }
  if (caller.nodeId !== nodeId) {
    throw new ConnectError(`node ${caller.nodeId} may not act as node ${nodeId}`, Code.PermissionDenied);
  }
}
