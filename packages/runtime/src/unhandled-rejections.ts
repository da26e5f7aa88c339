import type { Logger } from "./logger.js";

/**
 * A promise some code forgot to await must not end a process that holds long work (a gateway's runs, an agent's
 * training job): Node's default exits on it. Logged as an error instead, with what was rejected.
 */
export function logUnhandledRejections(logger: Logger): void {
  process.on("unhandledRejection", (reason) => {
    logger.error("unhandled rejection", {
      error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason),
    });
  });
}
