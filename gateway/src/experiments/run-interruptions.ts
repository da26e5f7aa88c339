/**
 * Which errors stop a run only for now: NATS restarting under it (a store call timed out, the connection closed,
 * JetStream not back yet). A run stopped by one stays RUNNING and is started again (counted as an adoption, so a
 * fault that never passes still ends it); any other error fails the run, a service still unreachable after the
 * call retries (two minutes) included. Both keep every finished cell and journalled answer.
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

export function isRunInterruption(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (PASSING_NATS_ERRORS.has(error.name)) return true;
  // JetStream answering 503 while it recovers its streams after a restart.
  if ((error as { status?: unknown }).status === 503) return true;
  return error.cause !== undefined && error.cause !== error && isRunInterruption(error.cause);
}
