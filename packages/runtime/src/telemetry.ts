/**
 * OpenTelemetry set-up, done once per process before the app starts.
 * Spans are always created (so trace ids reach logs, gRPC metadata and NATS headers); they are exported over
 * OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set (protobuf, or JSON
 * with OTEL_EXPORTER_OTLP_PROTOCOL=http/json). Metrics (./metrics.ts) go to the same endpoint whenever spans are
 * exported (or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set), every OTEL_METRIC_EXPORT_INTERVAL ms (default 15000);
 * OTEL_METRICS_EXPORTER=none turns them off. Without an endpoint no meter provider is registered and every
 * instrument is the API's no-op.
 */
import { type Attributes, context, propagation, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

export type { Span };
import { OTLPTraceExporter as OtlpJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";

export interface TelemetryOptions {
  /** service.name resource attribute, e.g. "ragtune-retriever". */
  serviceName: string;
  /** Extra processors (tests pass an in-memory exporter's processor). */
  spanProcessors?: SpanProcessor[];
  env?: Record<string, string | undefined>;
}

export interface Telemetry {
  /** True when spans leave the process. */
  exporting: boolean;
  shutdown(): Promise<void>;
}

/** Ends spans without sending them anywhere: keeps a provider registered when nothing is exported. */
const discardingProcessor: SpanProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

let active: Telemetry | undefined;

export function initTelemetry(options: TelemetryOptions): Telemetry {
  if (active) return active;
  const env = options.env ?? process.env;
  const exporting = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const exportingMetrics = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT);
  // The SDK builds the OTLP metric reader from these (protocol and endpoint as for traces); logs stay off.
  process.env.OTEL_METRICS_EXPORTER ??= exportingMetrics ? "otlp" : "none";
  process.env.OTEL_METRIC_EXPORT_INTERVAL ??= "15000";
  process.env.OTEL_LOGS_EXPORTER ??= "none";
  // OTLP over HTTP: protobuf by default, JSON when OTEL_EXPORTER_OTLP(_TRACES)_PROTOCOL says http/json.
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || "http/protobuf";
  const exporter = () => (protocol === "http/json" ? new OtlpJsonTraceExporter() : new OtlpProtoTraceExporter());
  const spanProcessors = [
    ...(exporting ? [new BatchSpanProcessor(exporter())] : [discardingProcessor]),
    ...(options.spanProcessors ?? []),
  ];
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME || options.serviceName,
    spanProcessors,
    instrumentations: [],
  });
  sdk.start();
  active = {
    exporting,
    shutdown: async () => {
      active = undefined;
      await sdk.shutdown();
    },
  };
  return active;
}

/**
 * Runs fn inside a new active span; records the error and rethrows on failure. fn may set more attributes on
 * the span (results, usage) before it ends.
 */
export async function withSpan<T>(
  tracerName: string,
  spanName: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  const tracer = trace.getTracer(tracerName);
  return tracer.startActiveSpan(spanName, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      recordSpanFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks the span failed with the error, for spans withSpan cannot wrap (a stream's). */
export function recordSpanFailure(span: Span, error: unknown): void {
  span.recordException(error as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
}

/** Writes the active trace context (W3C traceparent/tracestate) into a carrier via `set`. */
export function injectTraceContext(set: (key: string, value: string) => void): void {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  for (const [k, v] of Object.entries(carrier)) set(k, v);
}

/** The context a remote caller sent (from gRPC metadata or NATS headers). */
export function extractTraceContext(get: (key: string) => string | undefined) {
  return propagation.extract(
    context.active(),
    {},
    {
      keys: () => ["traceparent", "tracestate", "baggage"],
      get: (_carrier, key) => get(key),
    },
  );
}

/** Runs fn inside the trace context recorded in a carrier (one that injectTraceContext filled, e.g. a queued job). */
export function withTraceContext<T>(carrier: Readonly<Record<string, string>>, fn: () => T): T {
  return context.with(
    extractTraceContext((key) => carrier[key]),
    fn,
  );
}
