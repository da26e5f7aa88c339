import { context, type Context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { ConnectError, type Interceptor, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import { recordRpcDuration } from "./metrics.js";
import { extractTraceContext, injectTraceContext } from "./telemetry.js";

/** Services left out of traces: probes must not flood them (caller-auth.ts exempts health checks from auth). */
const infrastructureServices = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

/** Iterates a stream inside `ctx`, calling `done` once when it ends, fails, or the consumer stops early. */
async function* iterateWithin<T>(ctx: Context, source: AsyncIterable<T>, done: (error?: unknown) => void) {
  const iterator = source[Symbol.asyncIterator]();
  let ended = false;
  const finish = (error?: unknown) => {
    if (ended) return;
    ended = true;
    done(error);
  };
  try {
    while (true) {
      const result = await context.with(ctx, () => iterator.next());
      if (result.done) break;
      yield result.value;
    }
    finish();
  } catch (error) {
    finish(error);
    throw error;
  } finally {
    // A consumer that leaves the loop early (return/break) still ends the span.
    finish();
    await iterator.return?.();
  }
}

/** What the RPC duration histogram needs to record a call when its span ends. */
interface CallTiming {
  side: "server" | "client";
  service: string;
  method: string;
  started: number;
}

function endSpan(
  span: ReturnType<ReturnType<typeof trace.getTracer>["startSpan"]>,
  timing: CallTiming,
  error?: unknown,
) {
  const code = error === undefined ? 0 : ConnectError.from(error).code;
  recordRpcDuration(timing.side, (performance.now() - timing.started) / 1000, { ...timing, code });
  span.setAttribute("rpc.grpc.status_code", code);
  if (error !== undefined) {
    const err = ConnectError.from(error);
    span.recordException(err);
    span.setStatus({ code: SpanStatusCode.ERROR, message: err.rawMessage });
  }
  span.end();
}

/** Runs the call inside the span's context and ends the span when the call, or its response stream, ends. */
async function callWithinSpan<R extends UnaryResponse | StreamResponse>(
  span: ReturnType<ReturnType<typeof trace.getTracer>["startSpan"]>,
  ctx: Context,
  timing: CallTiming,
  call: () => Promise<R>,
): Promise<R> {
  let res: R;
  try {
    res = await context.with(ctx, call);
  } catch (error) {
    endSpan(span, timing, error);
    throw error;
  }
  if (!res.stream) {
    endSpan(span, timing);
    return res;
  }
  return { ...res, message: iterateWithin(ctx, res.message, (error) => endSpan(span, timing, error)) };
}

/** A SERVER span per RPC, child of the caller's span when its W3C trace context came in the metadata. */
export function createServerTracingInterceptor(tracerName: string): Interceptor {
  const tracer = trace.getTracer(tracerName);
  return (next) => async (req) => {
    if (infrastructureServices.has(req.service.typeName)) return next(req);
    const parent = extractTraceContext((key) => req.header.get(key) ?? undefined);
    const span = tracer.startSpan(
      `${req.service.typeName}/${req.method.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": "grpc",
          "rpc.service": req.service.typeName,
          "rpc.method": req.method.name,
        },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    const timing = { side: "server", service: req.service.typeName, method: req.method.name } as const;
    return callWithinSpan(span, ctx, { ...timing, started: performance.now() }, () => next(req));
  };
}

/** A CLIENT span per call, and the W3C trace context in the outgoing metadata. */
export function createClientTracingInterceptor(tracerName: string): Interceptor {
  const tracer = trace.getTracer(tracerName);
  return (next) => async (req) => {
    const span = tracer.startSpan(`${req.service.typeName}/${req.method.name}`, {
      kind: SpanKind.CLIENT,
      attributes: { "rpc.system": "grpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name },
    });
    const ctx = trace.setSpan(context.active(), span);
    context.with(ctx, () => injectTraceContext((key, value) => req.header.set(key, value)));
    const timing = { side: "client", service: req.service.typeName, method: req.method.name } as const;
    return callWithinSpan(span, ctx, { ...timing, started: performance.now() }, () => next(req));
  };
}

/** Adds `authorization: Bearer <token>` to every call. */
export function createBearerTokenInterceptor(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}
