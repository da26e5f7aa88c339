import { runAgent } from "./agent/run-agent.js";

await runAgent();
