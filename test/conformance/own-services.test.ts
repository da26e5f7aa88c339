/**
 * The project's own services pass their contract's conformance kit: each started as its own process over a
 * socket with a real NATS, checked through the kit as `ragtune conformance` runs it (events included).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CONTRACTS, formatResult, runConformance } from "@ragtune/conformance";
import { type LocalStack, startLocalStack } from "@ragtune/gateway/local-stack";
import { stackServices } from "@ragtune/gateway";
import { type LocalNats, startTestNats } from "@ragtune/runtime";

const contracts = ["judge", "retriever", "generator", "trainer", "node-agent"] as const;
/** The process that serves each contract: the node-agent protocol is the trainer's side of it. */
const serverOf = (contract: string) => (contract === "node-agent" ? "trainer" : contract);

describe("the project's services pass their conformance kits", () => {
  let nats: LocalNats;
  let stack: LocalStack;
  let dataDir: string;
  const logs: string[] = [];

  before(async () => {
    nats = await startTestNats();
    dataDir = mkdtempSync(join(tmpdir(), "ragtune-conformance-"));
    stack = await startLocalStack({
      env: { ...process.env, NATS_URL: nats.url },
      dataDir,
      anyPort: true,
      services: stackServices.filter((s) => contracts.some((c) => serverOf(c) === s.name)),
      onLog: (service, line) => logs.push(`[${service}] ${line}`),
    });
  });
  after(async () => {
    await stack?.stop();
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  for (const name of contracts) {
    it(`${name}: every check passes (events included where the contract publishes any)`, async () => {
      const url = stack.processes.find((p) => p.service.name === serverOf(name))!.url;
      const report = await runConformance(CONTRACTS[name], url, { natsUrl: nats.url });
      assert.equal(report.status, "checked", report.status !== "checked" ? report.reason : "");
      if (report.status !== "checked") return;
      const lines = report.results.map(formatResult);
      // A model mode the stack has no model for may be declared not offered; nothing may fail, and events,
      // with a NATS URL given, must be checked.
      const wrong = report.results.filter(
        (r) => r.outcome === "fail" || (r.outcome === "skip" && !/^(FAILED_PRECONDITION|UNIMPLEMENTED)/.test(r.reason)),
      );
      assert.deepEqual(wrong.map(formatResult), [], `${lines.join("\n")}\n${logs.slice(-10).join("\n")}`);
      assert.ok(report.results.length >= 10, `${report.results.length} checks ran`);
    });
  }
});
