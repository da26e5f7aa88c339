import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createBearerTokenInterceptor, createClientTracingInterceptor } from "./interceptors.js";
import { createLeanGrpcTransport } from "./lean-grpc-transport.js";

export interface ServiceClientOptions {
  /** Bearer token for servers that require one. */
  authToken?: string;
  /** Client spans and trace context propagation; default true. */
  tracing?: boolean;
  interceptors?: Interceptor[];
  /**
   * Deadline of each unary call that sets none itself, ms; default RAGTUNE_CALL_TIMEOUT_MS (10 minutes), 0: none. Streaming calls (watches
   * that follow a job for hours, ingest streams) get no default deadline.
   */
  timeoutMs?: number;
}

export const DEFAULT_CALL_TIMEOUT_MS = 600_000;

let defaultCallTimeoutMs = DEFAULT_CALL_TIMEOUT_MS;

/** The deadline of unary calls whose client and call set none (process-wide; RAGTUNE_CALL_TIMEOUT_MS). */
export function setDefaultCallTimeoutMs(ms: number): void {
  defaultCallTimeoutMs = ms;
}

/** A gRPC (HTTP/2) client of a ragtune service, carrying trace context and the bearer token. */
export function createServiceClient<T extends DescService>(
  service: T,
  baseUrl: string,
  options: ServiceClientOptions = {},
): Client<T> {
  const interceptors: Interceptor[] = [];
  if (options.tracing !== false) interceptors.push(createClientTracingInterceptor("ragtune.client"));
  if (options.authToken) interceptors.push(createBearerTokenInterceptor(options.authToken));
  interceptors.push(...(options.interceptors ?? []));
  return createClient(
    service,
    createLeanGrpcTransport({
      baseUrl,
      interceptors,
      defaultTimeoutMs: options.timeoutMs ?? defaultCallTimeoutMs,
    }),
  );
}
