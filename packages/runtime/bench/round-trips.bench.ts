/**
 * Unary round trips per second through the runtime's server (tracing on, spans batched to an exporter) against a
 * bare connect-node HTTP/2 server with the same handler, measured in one run, alternating rounds.
 * Target: runtime/bare >= 0.85.
 */
import http2 from "node:http2";
import type net from "node:net";
import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { JudgeService } from "@ragtune/contracts/judge";
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { createServiceServer, initTelemetry } from "../src/index.js";

let exported = 0;
const countingExporter: SpanExporter = {
  export(spans: ReadableSpan[], done) {
    exported += spans.length;
    done({ code: 0 });
  },
  shutdown: async () => {},
};
const telemetry = initTelemetry({ serviceName: "bench", spanProcessors: [new BatchSpanProcessor(countingExporter)] });

const handler = {
  listCriteria: () => ({ criteria: [{ name: "accuracy", definition: "How well the answer addresses the question." }] }),
};

async function bareServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http2.createServer(connectNodeAdapter({ routes: (router) => router.service(JudgeService, handler) }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => sessions.add(session));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const session of sessions) session.destroy();
    });
  return { url: `http://127.0.0.1:${port}`, close };
}

async function measure(url: string, seconds: number, concurrency: number): Promise<number> {
  const client = createClient(JudgeService, createGrpcTransport({ baseUrl: url }));
  await Promise.all(Array.from({ length: concurrency }, () => client.listCriteria({}))); // warm the connection
  let calls = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await client.listCriteria({});
        calls++;
      }
    }),
  );
  return calls / ((performance.now() - started) / 1000);
}

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const concurrency = 16;
const runtime = createServiceServer({
  name: "bench",
  services: [{ service: JudgeService, impl: handler }],
  tracing: true,
});
const runtimeUrl = (await runtime.listen()).url;
const bare = await bareServer();

const bareRates: number[] = [];
const runtimeRates: number[] = [];
for (let round = 0; round < rounds; round++) {
  bareRates.push(await measure(bare.url, seconds, concurrency));
  runtimeRates.push(await measure(runtimeUrl, seconds, concurrency));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
await runtime.close(1000);
await bare.close();
await telemetry.shutdown();

const ratio = median(runtimeRates) / median(bareRates);
console.log(
  `unary round trips, ${concurrency} concurrent callers, ${rounds} alternating rounds of ${seconds}s (median):`,
);
console.log(`  bare connect-node HTTP/2 server : ${median(bareRates).toFixed(0)} calls/s`);
console.log(
  `  runtime server, tracing on      : ${median(runtimeRates).toFixed(0)} calls/s  (${exported} spans exported)`,
);
console.log(
  `  ratio runtime/bare              : ${ratio.toFixed(3)}  (target >= 0.85) ${ratio >= 0.85 ? "OK" : "BELOW TARGET"}`,
);
