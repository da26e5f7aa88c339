/**
 * The gateway's calls to the retriever, generator, judge and trainer: each has a deadline, and one that failed
 * for a reason that passes (the service restarting, a deadline, a full queue) is tried again after an exponential
 * backoff with full jitter, within a bounded number of attempts and time. Every call the runner makes is
 * idempotent (a generation is seeded, a job id is its idempotency key, a collection is created once), so
 * trying again cannot change a result.
 */
import type { DescService } from "@bufbuild/protobuf";
import { type CallOptions, type Client, Code, ConnectError } from "@connectrpc/connect";
import { sleep } from "@ragtune/runtime";

/**
 * Codes a retry can fix: the service is restarting or overloaded, or one call took too long. CANCELED too: a
 * stream the peer's restart cut (HTTP/2 CANCEL); one the gateway cancelled itself is never retried (its signal
 * says so).
 */
export const RETRYABLE_CODES: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Canceled,
]);

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  attempts: number;
  /** Backoff before the first retry, ms; doubles per retry up to maxBackoffMs (then jittered: 0..that). */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** No retry starts later than this after the first attempt, ms. */
  totalMs: number;
  /** Deadline of one unary call (and of one attempt), ms. */
  callTimeoutMs: number;
  /** Deadline of one streaming call, ms. */
  streamTimeoutMs: number;
  random?: () => number;
  onRetry?: (info: { method: string; attempt: number; delayMs: number; error: ConnectError }) => void;
}

/** Bounded by time more than by attempts: a service started again on a busy node can take a minute to listen. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 30,
  baseBackoffMs: 200,
  maxBackoffMs: 10_000,
  totalMs: 120_000,
  callTimeoutMs: 300_000,
  streamTimeoutMs: 3_600_000,
};

export function isRetryable(error: unknown): boolean {
  return RETRYABLE_CODES.has(ConnectError.from(error).code);
}

/** Full jitter: a uniform delay up to the exponential backoff of this retry. */
export function backoffMs(policy: RetryPolicy, retry: number): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** retry);
  return Math.round((policy.random ?? Math.random)() * ceiling);
}

/** Runs attempt() until it succeeds, fails for a reason a retry cannot fix, or the policy's bounds are spent. */
export async function withRetries<T>(
  method: string,
  policy: RetryPolicy,
  signal: AbortSignal | undefined,
  attempt: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (signal?.aborted) throw error; // cancelled by the caller: nothing to retry
      const e = ConnectError.from(error);
      const delayMs = backoffMs(policy, retry);
      const spent = retry + 1 >= policy.attempts || Date.now() - started + delayMs > policy.totalMs;
      if (!RETRYABLE_CODES.has(e.code) || spent) throw error;
      policy.onRetry?.({ method, attempt: retry + 1, delayMs, error: e });
      await sleep(delayMs, signal);
    }
  }
}

/**
 * The client with the policy around every method: unary calls get the call deadline and retries; streaming
 * calls get the stream deadline (a stream cannot be replayed here: its caller re-attaches, as the trainer's
 * job watch does).
 */
export function resilientClient<T extends DescService>(service: T, client: Client<T>, policy: RetryPolicy): Client<T> {
  const wrapped: Record<string, unknown> = {};
  const methods = client as unknown as Record<string, (request: unknown, options?: CallOptions) => unknown>;
  for (const method of service.methods) {
    const call = methods[method.localName].bind(client);
    const name = `${service.typeName}/${method.name}`;
    wrapped[method.localName] =
      method.methodKind === "unary"
        ? (request: unknown, options: CallOptions = {}) =>
            withRetries(
              name,
              policy,
              options.signal,
              () =>
                call(request, { ...options, timeoutMs: options.timeoutMs ?? policy.callTimeoutMs }) as Promise<unknown>,
            )
        : (request: unknown, options: CallOptions = {}) =>
            call(request, { ...options, timeoutMs: options.timeoutMs ?? policy.streamTimeoutMs });
  }
  return wrapped as Client<T>;
}
