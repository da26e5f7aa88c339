/** Failures of an OpenAI-compatible backend, classified so callers can map them to gRPC codes. */

export type LlmErrorKind =
  /** The server answered with a non-2xx status (see `status`). */
  | "http"
  /** The server could not be reached (connection refused, reset, DNS). */
  | "network"
  /** No answer within the timeout. */
  | "timeout"
  /** The caller aborted. */
  | "aborted"
  /** The server answered 2xx with a body that is not what the API promises. */
  | "protocol";

export class LlmError extends Error {
  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    readonly status?: number,
    /** Attempts made, retries included. */
    readonly attempts = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "LlmError";
  }

  /** 429, 5xx, network failures and timeouts may succeed on a later attempt; other 4xx never do. */
  get retryable(): boolean {
    if (this.kind === "network" || this.kind === "timeout") return true;
    if (this.kind === "http" && this.status !== undefined) return this.status === 429 || this.status >= 500;
    return false;
  }
}
