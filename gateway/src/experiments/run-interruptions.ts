/**
 * Which errors stop a run only for now: NATS restarting under it (a store call timed out, the connection closed,
 * JetStream not back yet). A run stopped by one stays RUNNING and is started again (counted as an adoption, so a
 * fault that never passes still ends it); any other error fails the run, a service still unreachable after the
 * call retries (two minutes) included. Both keep every finished cell and journalled answer.
 */
import { isPassingNatsError } from "@ragtune/runtime";

export function isRunInterruption(error: unknown): boolean {
  return isPassingNatsError(error);
}
