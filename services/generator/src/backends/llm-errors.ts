import { Code, ConnectError, invalidArgument, notFound, resourceExhausted, unavailable } from "@ragtune/runtime";
import { LlmError } from "@ragtune/llm";

/** An OpenAI-compatible backend's failure as the gRPC status it means for the caller. */
export function connectErrorFromLlm(error: unknown, backend: string, model: string): ConnectError {
  if (error instanceof ConnectError) return error;
  if (!(error instanceof LlmError)) return new ConnectError((error as Error).message ?? String(error), Code.Internal);
  const where = `backend ${backend}`;
  switch (error.kind) {
    case "aborted":
      return new ConnectError(`${where}: request cancelled`, Code.Canceled);
    case "network":
    case "timeout":
      return unavailable(`${where} unavailable after ${error.attempts} attempt(s): ${error.message}`, error);
    case "protocol":
      return new ConnectError(`${where} answered outside the API: ${error.message}`, Code.Internal);
  }
  const status = error.status ?? 0;
  if (status === 429)
    return resourceExhausted(`${where} is rate limiting after ${error.attempts} attempt(s): ${error.message}`);
  if (status >= 500)
    return unavailable(`${where} unavailable after ${error.attempts} attempt(s): ${error.message}`, error);
  if (status === 404) return notFound("model", `${model} on ${where}`);
  if (status === 401 || status === 403) {
    return new ConnectError(`${where} rejected the configured credentials (HTTP ${status})`, Code.FailedPrecondition);
  }
  if (/context length|maximum context|too long|context window/i.test(error.message)) {
    return invalidArgument("contexts", `the prompt does not fit the model's context window (${error.message})`);
  }
  return new ConnectError(`${where} refused the request: ${error.message}`, Code.Internal);
}
