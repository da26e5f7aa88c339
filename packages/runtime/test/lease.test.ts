/**
 * The KV lease on a real nats-server, between "hosts" (two connections) whose clocks disagree by an hour: expiry
 * is judged by each observer's own clock since it last saw the lease's revision change, so no clock is ever
 * compared with another's, and a holder's own view of its lease ends before any observer's does.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectNats, createKvLease, type LocalNats, type NatsHandle, startTestNats } from "../src/index.js";

describe("createKvLease", () => {
  let server: LocalNats;
  let hostA: NatsHandle;
  let hostB: NatsHandle;
  before(async () => {
    server = await startTestNats();
    hostA = await connectNats({ url: server.url, name: "lease-host-a" });
    hostB = await connectNats({ url: server.url, name: "lease-host-b" });
  });
  after(async () => {
    await hostA.close();
    await hostB.close();
    await server.stop();
  });

  /** Two hosts' views of one lease key, each with its own settable monotonic clock. */
  async function twoHosts(bucket: string, ttlMs = 1000) {
    const clockA = { ms: 5_000 };
    const clockB = { ms: 5_000 + 3_600_000 }; // an hour ahead of A
    const a = createKvLease(await hostA.kvm.create(bucket), "lease", "a", ttlMs, () => clockA.ms);
    const b = createKvLease(await hostB.kvm.create(bucket), "lease", "b", ttlMs, () => clockB.ms);
    return { a, b, clockA, clockB };
  }

  it("keeps the lease with a live holder however far apart the clocks are, and hands it over once it lapses", async () => {
    const { a, b, clockA, clockB } = await twoHosts("lease_skew");
    assert.equal(await a.claim(), "acquired");
    assert.equal(a.held(), true);
    // B first sees the lease now: it waits a whole time to live by its own clock from here.
    assert.equal(await b.claim(), "held-elsewhere");
    clockB.ms += 900;
    assert.equal(await b.claim(), "held-elsewhere");
    clockA.ms += 600;
    assert.equal(await a.claim(), "renewed"); // a new revision: B's count starts again when it sees it
    clockB.ms += 200; // 1100 ms since B first looked, but the revision it sees is new
    assert.equal(await b.claim(), "held-elsewhere");
    clockB.ms += 900;
    assert.equal(await b.claim(), "held-elsewhere");
    // A stops renewing (it died or stalled); by A's own clock its lease is over before B may take it.
    clockA.ms += 1_000;
    assert.equal(a.held(), false);
    clockB.ms += 200;
    assert.equal(await b.claim(), "acquired");
    assert.equal(b.held(), true);
    assert.ok((b.revision ?? 0) > 0);
    // The stalled A wakes: the lease is B's now, and A's claim says so.
    assert.equal(await a.claim(), "held-elsewhere");
    assert.equal(a.held(), false);
  });

  it("lets exactly one of two racing claimants take a lapsed lease, and a release hands over at once", async () => {
    const { a, b, clockA, clockB } = await twoHosts("lease_race");
    assert.equal(await a.claim(), "acquired");
    assert.equal(await b.claim(), "held-elsewhere");
    clockA.ms += 5_000;
    clockB.ms += 5_000;
    const a2 = createKvLease(await hostA.kvm.open("lease_race"), "lease", "a2", 1000, () => clockA.ms);
    // Both A's sibling and B have watched the revision for longer than the time to live.
    assert.equal(await a2.claim(), "held-elsewhere");
    clockA.ms += 5_000;
    const results = await Promise.all([a2.claim(), b.claim()]);
    assert.equal(results.filter((r) => r === "acquired").length, 1, results.join(","));
    const [winner, loser] = results[0] === "acquired" ? [a2, b] : [b, a2];
    assert.equal(loser.held(), false);
    await winner.release();
    assert.equal(winner.held(), false);
    assert.equal(await loser.claim(), "acquired");
  });
});
