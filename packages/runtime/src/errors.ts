import { Code, ConnectError } from "@connectrpc/connect";

/** A request field is wrong. `field` is the proto field path, e.g. "spec.lora_rank" or "items[3].question". */
export function invalidArgument(field: string, reason: string): ConnectError {
  return new ConnectError(`${field}: ${reason}`, Code.InvalidArgument, { "ragtune-field": field });
}

export function notFound(kind: string, id: string): ConnectError {
  return new ConnectError(`${kind} "${id}" not found`, Code.NotFound);
}

export function alreadyExists(kind: string, id: string, reason = "already exists"): ConnectError {
  return new ConnectError(`${kind} "${id}" ${reason}`, Code.AlreadyExists);
}

export function failedPrecondition(reason: string): ConnectError {
  return new ConnectError(reason, Code.FailedPrecondition);
}

export function resourceExhausted(reason: string): ConnectError {
  return new ConnectError(reason, Code.ResourceExhausted);
}

/** A backend the service depends on (vector store, LLM server, NATS) cannot be reached. */
export function unavailable(reason: string, cause?: unknown): ConnectError {
  return new ConnectError(reason, Code.Unavailable, undefined, undefined, cause);
}

export function unimplemented(what: string): ConnectError {
  return new ConnectError(`${what} is not implemented`, Code.Unimplemented);
}

export { Code, ConnectError };
