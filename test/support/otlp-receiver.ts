/** A local OTLP/HTTP JSON receiver of traces and metrics: what a collector would get from every process of the stack. */
import http from "node:http";
import type net from "node:net";

export interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
}

/** One data point of a metric (a histogram's count and sum, or a gauge's or counter's value). */
export interface ReceivedMetricPoint {
  service: string;
  name: string;
  unit: string;
  attributes: Record<string, unknown>;
  /** Histograms: observations and their sum. */
  count?: number;
  sum?: number;
  /** Gauges and sums: the value. */
  value?: number;
}

export interface OtlpReceiver {
  endpoint: string;
  spans: ReceivedSpan[];
  metrics: ReceivedMetricPoint[];
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };

function attributesOf(list: Array<{ key: string; value: AnyValue }> | undefined): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const a of list ?? [])
    attributes[a.key] = a.value.stringValue ?? a.value.intValue ?? a.value.doubleValue ?? a.value.boolValue;
  return attributes;
}

interface JsonPoint {
  attributes?: Array<{ key: string; value: AnyValue }>;
  count?: string | number;
  sum?: number;
  asDouble?: number;
  asInt?: string | number;
}

function readMetrics(payload: { resourceMetrics?: unknown[] }, into: ReceivedMetricPoint[]) {
  for (const resourceMetrics of (payload.resourceMetrics ?? []) as Array<Record<string, any>>) {
    const service = String(attributesOf(resourceMetrics.resource?.attributes)["service.name"] ?? "");
    for (const scope of resourceMetrics.scopeMetrics ?? []) {
      for (const metric of scope.metrics ?? []) {
        const points: JsonPoint[] =
          metric.histogram?.dataPoints ?? metric.gauge?.dataPoints ?? metric.sum?.dataPoints ?? [];
        for (const point of points) {
          const value = point.asDouble ?? (point.asInt === undefined ? undefined : Number(point.asInt));
          into.push({
            service,
            name: metric.name,
            unit: metric.unit ?? "",
            attributes: attributesOf(point.attributes),
            ...(point.count === undefined ? {} : { count: Number(point.count), sum: point.sum }),
            ...(value === undefined ? {} : { value }),
          });
        }
      }
    }
  }
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetricPoint[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      if (req.url === "/v1/metrics") readMetrics(JSON.parse(body), metrics);
      if (req.url === "/v1/traces") {
        const payload = JSON.parse(body);
        for (const resourceSpans of payload.resourceSpans ?? []) {
          const service =
            resourceSpans.resource?.attributes?.find((a: { key: string }) => a.key === "service.name")?.value
              ?.stringValue ?? "";
          for (const scope of resourceSpans.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) {
              const attributes: Record<string, unknown> = {};
              for (const a of span.attributes ?? []) {
                const v: AnyValue = a.value;
                attributes[a.key] = v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue;
              }
              spans.push({
                service,
                name: span.name,
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId ?? "",
                attributes,
              });
            }
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    metrics,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
