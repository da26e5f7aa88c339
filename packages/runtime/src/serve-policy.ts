/**
 * Fail-closed serving: a server reachable from other hosts must have a token, unless the operator says
 * `--insecure` (RAGTUNE_INSECURE=1), which is logged as a warning at every start. Loopback without a token stays
 * allowed (development and tests) and is logged too.
 */
import { ConfigError } from "./config.js";
import type { Logger } from "./logger.js";

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare) || bare === "::ffff:127.0.0.1";
}

export interface ServeAuthPolicy {
  /** host:port addresses the process listens on. */
  addresses: readonly string[];
  authToken?: string;
  insecure?: boolean;
}

export type ServeAuthMode = "token" | "loopback-open" | "insecure";

function hostOf(address: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:]+):\d+$/.exec(address);
  return match ? match[1] : address;
}

/** Throws ConfigError naming RAGTUNE_AUTH_TOKEN when serving would be open to other hosts. */
export function checkServeAuth(policy: ServeAuthPolicy): ServeAuthMode {
  if (policy.authToken) return "token";
  const exposed = policy.addresses.filter((address) => !isLoopbackHost(hostOf(address)));
  if (exposed.length === 0) return "loopback-open";
  if (policy.insecure) return "insecure";
  throw new ConfigError(
    "RAGTUNE_AUTH_TOKEN",
    `is required to listen on ${exposed.join(", ")} (not loopback); set it, or pass --insecure (RAGTUNE_INSECURE=1) to serve every RPC without auth`,
  );
}

/** Logs the mode: a warning when insecure, every time. */
export function logServeAuth(mode: ServeAuthMode, logger: Logger | undefined, addresses: readonly string[]): void {
  if (mode === "insecure") {
    logger?.warn("INSECURE: serving every RPC without authentication on a non-loopback address", { addresses });
  } else if (mode === "loopback-open") {
    logger?.info("no RAGTUNE_AUTH_TOKEN: RPCs are unauthenticated (loopback only)", { addresses });
  }
}

/** `--insecure` as a bare flag, besides RAGTUNE_INSECURE (flag --ragtune-insecure). */
export function insecureFlag(argv: readonly string[]): boolean {
  return argv.includes("--insecure");
}
