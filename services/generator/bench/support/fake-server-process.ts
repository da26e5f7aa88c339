/** Runs the fake OpenAI-compatible server in its own process, so its CPU does not compete with the code measured. */
import { startFakeOpenAiServer } from "@ragtune/testing";

const latencyMs = Number(process.argv[2] ?? 50);
const server = await startFakeOpenAiServer({ latencyMs, models: [{ id: "bench-model", maxModelLen: 8192 }] });
process.stdout.write(`${JSON.stringify({ baseUrl: server.baseUrl })}\n`);
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
