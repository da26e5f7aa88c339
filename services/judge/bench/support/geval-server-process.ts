/**
 * The OpenAI-compatible test server for the judge-vs-promptfoo bench, in a process of its own (its CPU does not
 * share the judges' event loop) with a fixed latency. It honours n. It answers ragtune's G-Eval prompts as the
 * fake judge does (test/support/fake-judge.ts) and promptfoo's g-eval prompts in the JSON promptfoo parses
 * ({"steps": [...]}, then {"score": 0..10, "reason"}), each score a fresh seeded draw. Prints {"baseUrl"} once
 * listening; a "stats" line on stdin answers {"chatRequests"}. argv[2]: { latencyMs, seed } as JSON.
 */
import { createInterface } from "node:readline";
import { seededRandom } from "@ragtune/runtime";
import { type FakeResponder, startFakeOpenAiServer } from "@ragtune/testing";
import { createFakeJudge } from "../../test/support/fake-judge.js";

const options = JSON.parse(process.argv[2] ?? "{}") as { latencyMs?: number; seed?: number };
const ours = createFakeJudge({ seed: options.seed });
const random = seededRandom((options.seed ?? 7) + 1);

const respond: FakeResponder = (input) => {
  if (input.prompt.includes('{"steps": <list_of_strings>}')) {
    return {
      tokens: [
        '{"steps":["Read the prompt and the reply.","Check the reply against the criteria.","Note what is missing or wrong.","Rate how fully the criteria are met."]}',
      ],
    };
  }
  if (input.prompt.includes("**Reply**")) {
    const score = Math.min(10, Math.max(0, Math.round(6 + (random() - 0.5) * 6)));
    return { tokens: [`{"score":${score},"reason":"The reply addresses the prompt in part."}`] };
  }
  return ours.respond(input);
};

const server = await startFakeOpenAiServer({
  respond,
  models: [{ id: "judge-model", maxModelLen: 1_000_000 }],
  latencyMs: options.latencyMs ?? 0,
});
process.stdout.write(`${JSON.stringify({ baseUrl: server.baseUrl })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === "stats") {
    const chatRequests = server.requests.filter((r) => r.path === "/v1/chat/completions").length;
    process.stdout.write(`${JSON.stringify({ chatRequests })}\n`);
  }
}
await server.close();
