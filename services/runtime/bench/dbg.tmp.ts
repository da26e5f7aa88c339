import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JudgeService } from "@ragtune/contracts/judge";
import { createServiceServer, initTelemetry } from "../src/index.js";
if (process.env.TEL) initTelemetry({ serviceName: "x" });
const handler = { listCriteria: () => ({ criteria: [{ name: "accuracy" }] }) };
const runtime = createServiceServer({
  name: "bench",
  services: [{ service: JudgeService, impl: handler }],
  tracing: !process.env.NOTRACE,
});
const url = (await runtime.listen()).url;
const client = createClient(JudgeService, createGrpcTransport({ baseUrl: url }));
await client.listCriteria({});
let n = 0;
const t = performance.now();
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (performance.now() - t < 1000) {
      await client.listCriteria({});
      n++;
    }
  }),
);
console.log("n", n);
process.exit(0);
