/**
 * Riding out NATS restarting: which errors of a store call mean "not reachable right now" (a call timed out, the
 * connection closed, JetStream not back yet), and a call tried again while it fails that way, for a bounded time.
 * A process that records what it was paid for (an answer, a score) waits a NATS restart of a few seconds out
 * instead of losing the record.
 */

/** nats.js error classes that mean "not reachable right now", by name (the classes live in several packages). */
const PASSING_NATS_ERRORS = new Set([
  "TimeoutError",
  "ClosedConnectionError",
  "ConnectionError",
  "NoRespondersError",
  "RequestError",
  "JetStreamNotEnabled",
]);

/** True for an error (or one in its cause chain) that NATS restarting causes and that passes when it is back. */
export function isPassingNatsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (PASSING_NATS_ERRORS.has(error.name)) return true;
  // JetStream answering 503 while it recovers its streams after a restart.
  if ((error as { status?: unknown }).status === 503) return true;
  return error.cause !== undefined && error.cause !== error && isPassingNatsError(error.cause);
}

/** Waits ms; an abort of `signal` rejects with its reason. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** How long a store call waits out NATS restarting before its error goes on, by default. */
export const NATS_PATIENCE_MS = 30_000;

/**
 * A store call tried again, with a doubling pause, while it fails for a passing reason, for up to `patienceMs`.
 * Past that, or on an abort of `signal` (its reason is thrown), the error goes on.
 */
export async function waitingOutNatsRestarts<T>(
  call: () => Promise<T>,
  signal?: AbortSignal,
  patienceMs = NATS_PATIENCE_MS,
): Promise<T> {
  const started = Date.now();
  for (let delayMs = 250; ; delayMs = Math.min(4000, delayMs * 2)) {
    try {
      return await call();
    } catch (error) {
      if (!isPassingNatsError(error) || Date.now() - started + delayMs > patienceMs) throw error;
      await sleep(delayMs, signal);
    }
  }
}
