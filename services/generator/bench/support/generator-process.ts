/**
 * The generator service in its own process (OpenAI-compatible backend only, no NATS), for the throughput bench.
 * A "cpu" line on stdin answers with this process's CPU time so far, µs ({"cpuMicros"}). A third argument
 * "connect-handler" serves every call through connect's handler (the runtime server's unary fast path off).
 */
import { createInterface } from "node:readline";
import { GeneratorService } from "@ragtune/contracts/generator";
import { createServiceServer } from "@ragtune/runtime";
import { createOpenAiBackend } from "../../src/backends/openai-backend.js";
import { GeneratorServiceImpl } from "../../src/generator-service.js";
import { createOpenAiClient } from "@ragtune/llm";

const [baseUrl, concurrency, mode] = process.argv.slice(2);
const impl = new GeneratorServiceImpl({
  defaultBackend: "openai",
  backends: [createOpenAiBackend({ client: createOpenAiClient({ baseUrl, maxConcurrency: Number(concurrency) }) })],
});
const server = createServiceServer({
  name: "generator",
  services: [{ service: GeneratorService, impl }],
  unaryFastPath: mode !== "connect-handler",
});
const { url } = await server.listen("127.0.0.1:0");
process.stdout.write(`${JSON.stringify({ url })}\n`);
process.on("SIGTERM", () => void server.close(1000).then(() => process.exit(0)));
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === "cpu") {
    const used = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ cpuMicros: used.user + used.system })}\n`);
  }
}
