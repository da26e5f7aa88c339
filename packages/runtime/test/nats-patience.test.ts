import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { connectNats, isPassingNatsError, openKv, startNatsServer, waitingOutNatsRestarts } from "../src/index.js";

describe("waitingOutNatsRestarts", () => {
  it("keeps a KV write through a real NATS restart: the write made while NATS is down lands when it is back", async () => {
    const storeDir = mkdtempSync(join(tmpdir(), "ragtune-patience-"));
    let nats = await startNatsServer({ storeDir });
    const port = Number(new URL(nats.url).port);
    const handle = await connectNats({ url: nats.url, name: "patience-test" });
    try {
      const kv = await openKv(handle.kvm, "patience_test", { history: 1 });
      await nats.stop();
      const writing = waitingOutNatsRestarts(() => kv.put("answer", "kept"));
      let failedWhileDown: unknown;
      try {
        await kv.get("answer");
      } catch (error) {
        failedWhileDown = error;
      }
      assert.ok(
        isPassingNatsError(failedWhileDown),
        `a call while NATS is down fails for a passing reason: ${failedWhileDown}`,
      );
      await new Promise((done) => setTimeout(done, 1500));
      nats = await startNatsServer({ storeDir, port });
      await writing;
      assert.equal((await kv.get("answer"))?.string(), "kept");
    } finally {
      await handle.close();
      await nats.stop();
      rmSync(storeDir, { recursive: true, force: true });
    }
  });

  it("throws an error NATS restarting does not cause at once, without trying again", async () => {
    let calls = 0;
    await assert.rejects(
      waitingOutNatsRestarts(async () => {
        calls++;
        throw new Error("wrong last sequence");
      }),
      /wrong last sequence/,
    );
    assert.equal(calls, 1);
  });

  it("gives up after its patience, with the last error", async () => {
    let calls = 0;
    const timeout = Object.assign(new Error("TIMEOUT"), { name: "TimeoutError" });
    const started = Date.now();
    await assert.rejects(
      waitingOutNatsRestarts(
        async () => {
          calls++;
          throw timeout;
        },
        undefined,
        1000,
      ),
      (error) => error === timeout,
    );
    assert.ok(calls >= 2 && Date.now() - started <= 1500, `${calls} calls in ${Date.now() - started} ms`);
  });

  it("stops waiting when its signal aborts, with the abort's reason", async () => {
    const caller = new AbortController();
    const reason = new Error("cell stopping");
    setTimeout(() => caller.abort(reason), 100);
    await assert.rejects(
      waitingOutNatsRestarts(async () => {
        throw Object.assign(new Error("closed"), { name: "ClosedConnectionError" });
      }, caller.signal),
      (error) => error === reason,
    );
  });
});
