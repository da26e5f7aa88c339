/**
 * The fixed and the adaptive limit against a simulated backend on a fake clock: a server with `capacity` slots
 * whose calls take `baseMs` while it has room and stretch in proportion once more calls are in flight than it has
 * slots (they share its time). Its best throughput is capacity / baseMs.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adaptiveLimit, type ConcurrencyLimit, fixedLimit } from "./concurrency-limit.js";

class FakeClock {
  now = 0;
  private timers: { at: number; wake: () => void }[] = [];

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.timers.push({ at: this.now + ms, wake }));
  }

  /** Moves time to each timer in turn, letting the woken code run before the next. */
  async run(done: () => boolean): Promise<void> {
    while (!done()) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!this.timers.length) continue;
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers.shift()!;
      this.now = next.at;
      next.wake();
    }
  }
}

function simulatedBackend(clock: FakeClock, capacity: number, baseMs: number) {
  let active = 0;
  let peak = 0;
  return {
    get peak() {
      return peak;
    },
    async call(fail = false): Promise<void> {
      active++;
      peak = Math.max(peak, active);
      await clock.sleep(baseMs * Math.max(1, active / capacity));
      active--;
      if (fail) throw new Error("UNAVAILABLE");
    },
  };
}

/** `calls` calls from `callers` callers at once through the limit; returns calls per ms and the limits seen. */
async function drive(clock: FakeClock, limit: ConcurrencyLimit, backend: { call(): Promise<void> }, calls: number) {
  let started = 0;
  let finished = 0;
  const limits: number[] = [];
  const caller = async () => {
    while (started < calls) {
      started++;
      await limit.run(() => backend.call()).catch(() => {});
      finished++;
      limits.push(limit.limit);
    }
  };
  const callers = Array.from({ length: 128 }, caller);
  const begin = clock.now;
  await clock.run(() => finished >= calls);
  await Promise.all(callers);
  return { throughput: calls / (clock.now - begin), limits };
}

describe("concurrency limits", () => {
  it("a fixed limit never lets more calls in flight than it allows", async () => {
    const clock = new FakeClock();
    const backend = simulatedBackend(clock, 16, 100);
    const { throughput } = await drive(clock, fixedLimit(3), backend, 300);
    assert.equal(backend.peak, 3);
    assert.ok(Math.abs(throughput - 3 / 100) < 1e-9, `3 slots of 100 ms: ${throughput}`);
  });

  it("adaptive: grows from 2 slots to the backend's capacity, and not far past it", async () => {
    const clock = new FakeClock();
    const backend = simulatedBackend(clock, 16, 100);
    const limit = adaptiveLimit({ initial: 2, max: 256, now: () => clock.now });
    const { throughput, limits } = await drive(clock, limit, backend, 6000);
    const later = limits.slice(limits.length / 2);
    const capacityThroughput = 16 / 100;
    assert.ok(throughput >= 0.8 * capacityThroughput, `throughput ${throughput} of ${capacityThroughput}`);
    assert.ok(Math.min(...later) >= 8, `settled at ${Math.min(...later)}..${Math.max(...later)}`);
    // Latency grows by half once 24 calls share 16 slots: the limit backs off there instead of queueing more.
    assert.ok(Math.max(...later) <= 25, `settled at ${Math.min(...later)}..${Math.max(...later)}`);
    assert.ok(backend.peak <= 26, `peak in flight ${backend.peak}`);
  });

  it("adaptive: a backend that has room everywhere gets more slots, up to the maximum", async () => {
    const clock = new FakeClock();
    const backend = simulatedBackend(clock, 1000, 50);
    const limit = adaptiveLimit({ initial: 1, max: 40, now: () => clock.now });
    await drive(clock, limit, backend, 4000);
    assert.equal(limit.limit, 40);
  });

  it("adaptive: failures halve the limit", async () => {
    const clock = new FakeClock();
    const backend = simulatedBackend(clock, 1000, 50);
    const limit = adaptiveLimit({ initial: 16, max: 64, now: () => clock.now });
    const failing = { call: () => backend.call(true) };
    await drive(clock, limit, failing, 16);
    assert.equal(limit.limit, 8);
  });
});
