/**
 * The project's own services pass their contract's conformance kit: each started as its own process over a
 * socket with a real NATS, checked through the kit as `ragtune conformance` runs it (events included).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CONTRACTS, formatResult, runConformance } from "@ragtune/conformance";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "@ragtune/testing";
import { type RunningServices, startServices } from "./services.js";

const contracts = ["judge", "retriever", "generator", "trainer", "node-agent"] as const;
/** The process that serves each contract: the node-agent protocol is the trainer's side of it. */
const serverOf = (contract: string) => (contract === "node-agent" ? "trainer" : contract);

describe("the project's services pass their conformance kits", () => {
  let services: RunningServices;
  let judgeModel: FakeOpenAiServer;

  before(async () => {
    // A judge model over HTTP (the OpenAI-compatible fake), so the model-mode rows run rather than skip: it writes
    // numbered steps when asked for them and ends every form with a parseable score.
    judgeModel = await startFakeOpenAiServer({
      models: [{ id: "judge-model", maxModelLen: 1_000_000 }],
      respond: () => ({ tokens: ["1. Read the answer.\n", "2. Compare it with the gold answer.\n", "Score: 4"] }),
    });
    services = await startServices(contracts.map(serverOf), {
      env: { JUDGE_OPENAI_BASE_URL: judgeModel.baseUrl, JUDGE_MODEL: "judge-model" },
    });
  });
  after(async () => {
    await services?.stop();
    await judgeModel?.close();
  });

  for (const name of contracts) {
    it(`${name}: every check passes (events included where the contract publishes any)`, async () => {
      const report = await runConformance(CONTRACTS[name], services.url(serverOf(name)), {
        natsUrl: services.nats.url,
      });
      assert.equal(report.status, "checked", report.status !== "checked" ? report.reason : "");
      if (report.status !== "checked") return;
      const lines = report.results.map(formatResult);
      // Nothing may fail or be skipped: the judge has a model, and events, with a NATS URL given, are checked.
      const wrong = report.results.filter((r) => r.outcome !== "pass");
      assert.deepEqual(wrong.map(formatResult), [], `${lines.join("\n")}\n${services.logs.slice(-10).join("\n")}`);
      assert.ok(report.results.length >= 10, `${report.results.length} checks ran`);
    });
  }
});
