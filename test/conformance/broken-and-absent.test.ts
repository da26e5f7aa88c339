/**
 * The kit fails a broken implementation on the named check (and on that check only), and `ragtune conformance`
 * says in one line, with exit code 2, when nothing listens at the address or a server of another contract does.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CONTRACTS, runConformance } from "@ragtune/conformance";
import { repoRoot } from "@ragtune/gateway";
import { freePort, type ServiceServer } from "@ragtune/runtime";
import { startUnsortedRetriever } from "./broken-retriever.js";
import { type RunningServices, startServices } from "./services.js";

const ORDERING_CHECK = "Search: results by descending score, at most top_k";

/** Runs the CLI as a process; asynchronously, since the broken server lives in this test's process. */
function conformanceCli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const argv = ["--conditions=development", "--import", "tsx", join(repoRoot, "gateway/src/cli/main.ts")];
  return new Promise((resolve) => {
    execFile(process.execPath, [...argv, "conformance", ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("conformance against broken, absent and foreign servers", () => {
  let services: RunningServices;
  let broken: { url: string; server: ServiceServer };

  before(async () => {
    services = await startServices(["retriever", "judge"]);
    broken = await startUnsortedRetriever(services.url("retriever"));
  });
  after(async () => {
    await broken?.server.close(1000);
    await services?.stop();
  });

  it("a retriever returning results unsorted fails the ordering check, and only that one", async () => {
    const report = await runConformance(CONTRACTS.retriever, broken.url);
    assert.equal(report.status, "checked");
    if (report.status !== "checked") return;
    const failed = report.results.filter((r) => r.outcome === "fail");
    assert.deepEqual(
      failed.map((r) => r.name),
      [ORDERING_CHECK],
    );
    assert.match(failed[0].reason, /^scores not descending: \[/);
  });

  it("the CLI prints the failed check with its reason and exits 1", async () => {
    const { code, stdout, stderr } = await conformanceCli("retriever", "--url", broken.url);
    assert.equal(code, 1, `${stdout}${stderr}`);
    assert.match(
      stdout,
      new RegExp(`^FAIL  ${ORDERING_CHECK.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} — scores not descending`, "m"),
    );
    assert.match(stdout, /^PASS {2}health: /m);
    assert.match(stdout, /ragtune\.retriever\.v1\.RetrieverService at .*: \d+ passed, 1 failed, 1 skipped/);
  });

  it("the CLI passes the project's judge and exits 0", async () => {
    const { code, stdout } = await conformanceCli("judge", "--url", services.url("judge"), "--nats", services.nats.url);
    assert.equal(code, 0, stdout);
    assert.doesNotMatch(stdout, /^FAIL/m);
    // Only a model mode this stack has no model for may be skipped, as declared by the judge; events are checked.
    for (const line of stdout.split("\n").filter((l) => l.startsWith("SKIP"))) {
      assert.match(line, /^SKIP {2}Score \(SINGLE, default model\): .* — (FAILED_PRECONDITION|UNIMPLEMENTED): /);
    }
    assert.match(stdout, /^PASS {2}events: ScoreBatch announces ragtune\.judge\.batch\.scored/m);
    assert.match(stdout, /ragtune\.judge\.v1\.JudgeService at .*: \d+ passed, 0 failed, [01] skipped/);
  });

  it("nothing listening: one line, exit 2", async () => {
    const port = await freePort();
    const { code, stdout, stderr } = await conformanceCli("judge", "--url", `http://127.0.0.1:${port}`);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.match(stderr, /^ragtune conformance judge: no gRPC server answers at http:\/\/127\.0\.0\.1:\d+/);
  });

  it("a server of another contract: one line naming what it serves, exit 2", async () => {
    const { code, stdout, stderr } = await conformanceCli("retriever", "--url", services.url("judge"));
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.match(
      stderr,
      /does not implement ragtune\.retriever\.v1\.RetrieverService: it serves ragtune\.judge\.v1\.JudgeService/,
    );
  });
});
