/**
 * Which errors stop a run only for now: NATS restarting under it (a store call timed out, the connection closed,
 * JetStream not back yet). A run stopped by one stays RUNNING and is started again (counted as an adoption, so a
 * fault that never passes still ends it); any other error fails the run, a service still unreachable after the
 * call retries (two minutes) included. Both keep every finished cell and journalled answer.
 */
import { sleep } from "./call-retries.js";
/** nats.js error classes that mean "not reachable right now", by name (the classes live in several packages). */
const PASSING_NATS_ERRORS = new Set([
  "TimeoutError",
  "ClosedConnectionError",
  "ConnectionError",
  "NoRespondersError",
  "RequestError",
  "JetStreamNotEnabled",
]);

export function isRunInterruption(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (PASSING_NATS_ERRORS.has(error.name)) return true;
  // JetStream answering 503 while it recovers its streams after a restart.
  if ((error as { status?: unknown }).status === 503) return true;
  return error.cause !== undefined && error.cause !== error && isRunInterruption(error.cause);
}

/** How long a store call waits out NATS restarting before its error goes on. */
const NATS_PATIENCE_MS = 30_000;

/**
 * A store call tried again, with a doubling pause, while it fails for a passing reason, for up to 30 s: stopping
 * a run (or a cell going on without its store) for a NATS blip of a few seconds costs more than waiting for it.
 * Past that, or on an abort of `signal` (its reason is thrown), the error goes on.
 */
export async function waitingOutNatsRestarts<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const started = Date.now();
  for (let delayMs = 250; ; delayMs = Math.min(4000, delayMs * 2)) {
    try {
      return await call();
    } catch (error) {
      if (!isRunInterruption(error) || Date.now() - started + delayMs > NATS_PATIENCE_MS) throw error;
      await sleep(delayMs, signal);
    }
  }
}
