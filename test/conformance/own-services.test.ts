/**
 * The project's own services pass their contract's conformance kit: each started as its own process over a
 * socket with a real NATS, checked through the kit as `ragtune conformance` runs it (events included).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CONTRACTS, formatResult, runConformance } from "@ragtune/conformance";
import { type RunningServices, startServices } from "./services.js";

const contracts = ["judge", "retriever", "generator", "trainer", "node-agent"] as const;
/** The process that serves each contract: the node-agent protocol is the trainer's side of it. */
const serverOf = (contract: string) => (contract === "node-agent" ? "trainer" : contract);

describe("the project's services pass their conformance kits", () => {
  let services: RunningServices;

  before(async () => {
    services = await startServices(contracts.map(serverOf));
  });
  after(async () => {
    await services?.stop();
  });

  for (const name of contracts) {
    it(`${name}: every check passes (events included where the contract publishes any)`, async () => {
      const report = await runConformance(CONTRACTS[name], services.url(serverOf(name)), {
        natsUrl: services.nats.url,
      });
      assert.equal(report.status, "checked", report.status !== "checked" ? report.reason : "");
      if (report.status !== "checked") return;
      const lines = report.results.map(formatResult);
      // A model mode the stack has no model for may be declared not offered; nothing may fail, and events,
      // with a NATS URL given, must be checked.
      const wrong = report.results.filter(
        (r) => r.outcome === "fail" || (r.outcome === "skip" && !/^(FAILED_PRECONDITION|UNIMPLEMENTED)/.test(r.reason)),
      );
      assert.deepEqual(wrong.map(formatResult), [], `${lines.join("\n")}\n${services.logs.slice(-10).join("\n")}`);
      assert.ok(report.results.length >= 10, `${report.results.length} checks ran`);
    });
  }
});
