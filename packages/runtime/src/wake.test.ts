import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { waitForWake } from "./wake.js";

describe("waitForWake", () => {
  it("leaves no abort listener behind after being woken, however often it waits on one signal", async () => {
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) {
      await waitForWake(controller.signal, (wake) => setImmediate(wake));
    }
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  });

  it("returns when the signal aborts, and without a signal waits only for the wake", async () => {
    const controller = new AbortController();
    const waiting = waitForWake(controller.signal, () => {});
    controller.abort();
    await waiting;
    let woken = false;
    await waitForWake(undefined, (wake) =>
      setImmediate(() => {
        woken = true;
        wake();
      }),
    );
    assert.ok(woken);
  });
});
