/**
 * The kit fails a broken implementation on the named check (and on that check only), and `ragtune conformance`
 * says in one line, with exit code 2, when nothing listens at the address or a server of another contract does.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CONTRACTS, runConformance } from "@ragtune/conformance";
import { repoRoot, stackServices } from "@ragtune/gateway";
import { type LocalStack, startLocalStack } from "@ragtune/gateway/local-stack";
import { freePort, type LocalNats, type ServiceServer, startTestNats } from "@ragtune/runtime";
import { startUnsortedRetriever } from "./broken-retriever.js";

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
  let nats: LocalNats;
  let stack: LocalStack;
  let dataDir: string;
  let broken: { url: string; server: ServiceServer };
  const url = (name: string) => stack.processes.find((p) => p.service.name === name)!.url;

  before(async () => {
    nats = await startTestNats();
    dataDir = mkdtempSync(join(tmpdir(), "ragtune-conformance-broken-"));
    stack = await startLocalStack({
      env: { ...process.env, NATS_URL: nats.url },
      dataDir,
      anyPort: true,
      services: stackServices.filter((s) => s.name === "retriever" || s.name === "judge"),
    });
    broken = await startUnsortedRetriever(url("retriever"));
  });
  after(async () => {
    await broken?.server.close(1000);
    await stack?.stop();
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
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
    const { code, stdout } = await conformanceCli("judge", "--url", url("judge"), "--nats", nats.url);
    assert.equal(code, 0, stdout);
    assert.doesNotMatch(stdout, /^(FAIL|SKIP)/m);
    assert.match(stdout, /ragtune\.judge\.v1\.JudgeService at .*: \d+ passed, 0 failed, 0 skipped/);
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
    const { code, stdout, stderr } = await conformanceCli("retriever", "--url", url("judge"));
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.match(
      stderr,
      /does not implement ragtune\.retriever\.v1\.RetrieverService: it serves ragtune\.judge\.v1\.JudgeService/,
    );
  });
});
