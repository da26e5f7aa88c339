/**
 * The fake judge server in a process of its own, so its CPU time does not share the judge's event loop (as a
 * real LLM server wouldn't). Prints {"baseUrl"} once listening; answers a "stats" line on stdin with
 * {"chatRequests","maxInFlight"}. Options come as JSON in argv[2]: { latencyMs, seed }.
 */
import { createInterface } from "node:readline";
import { startFakeOpenAiServer } from "@ragtune/testing";
import { createFakeJudge } from "./fake-judge.js";

const options = JSON.parse(process.argv[2] ?? "{}") as { latencyMs?: number; seed?: number };
const judge = createFakeJudge({ seed: options.seed });
const server = await startFakeOpenAiServer({
  respond: judge.respond,
  models: [{ id: "judge-model", maxModelLen: 1_000_000 }],
  latencyMs: options.latencyMs ?? 0,
});
process.stdout.write(`${JSON.stringify({ baseUrl: server.baseUrl })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === "stats") {
    const chatRequests = server.requests.filter((r) => r.path === "/v1/chat/completions").length;
    process.stdout.write(`${JSON.stringify({ chatRequests, maxInFlight: server.maxInFlight })}\n`);
  }
}
await server.close();
