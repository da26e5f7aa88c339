import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HealthState, LIVENESS_SERVICE, ServingStatus } from "./health.js";

describe("HealthState", () => {
  it("keeps liveness SERVING while readiness follows the backend", async () => {
    let backendUp = false;
    const state = new HealthState(
      ["ragtune.judge.v1.JudgeService"],
      [
        {
          name: "nats",
          check: async () => {
            if (!backendUp) throw new Error("connection refused");
          },
        },
      ],
    );
    assert.equal(state.status(LIVENESS_SERVICE), ServingStatus.SERVING, "alive before the first check");
    assert.equal(await state.refresh(), ServingStatus.NOT_SERVING);
    assert.equal(state.status(""), ServingStatus.NOT_SERVING);
    assert.equal(state.status("ragtune.judge.v1.JudgeService"), ServingStatus.NOT_SERVING);
    assert.equal(state.lastFailure, "nats: connection refused");
    assert.equal(state.status(LIVENESS_SERVICE), ServingStatus.SERVING, "a lost backend is no reason to restart");

    backendUp = true;
    assert.equal(await state.refresh(), ServingStatus.SERVING);
    assert.equal(state.status("ragtune.judge.v1.JudgeService"), ServingStatus.SERVING);

    state.drain();
    assert.equal(state.status(""), ServingStatus.NOT_SERVING);
    assert.equal(await state.refresh(), ServingStatus.NOT_SERVING, "draining wins over passing checks");
    assert.equal(state.status(LIVENESS_SERVICE), ServingStatus.SERVING, "a draining process is still alive");
  });
});
