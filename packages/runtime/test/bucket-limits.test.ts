/**
 * JetStream buckets and streams get byte limits (and TTLs where asked) on a real nats-server, existing ones too,
 * and a bucket that is full refuses its own writes while the others keep working.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  bucketLimitDefaults,
  connectNats,
  EVENTS_STREAM,
  type LocalNats,
  type NatsHandle,
  openKv,
  openObjectStore,
  setBucketLimitDefaults,
  startTestNats,
} from "../src/index.js";

const MiB = 1024 * 1024;

describe("JetStream bucket limits", () => {
  let server: LocalNats;
  let nats: NatsHandle;
  before(async () => {
    server = await startTestNats();
    nats = await connectNats({ url: server.url, name: "limits-test", eventsMaxBytes: 32 * MiB });
  });
  after(async () => {
    await nats.close();
    await server.stop();
  });

  const config = async (stream: string) => (await nats.jsm.streams.info(stream)).config;

  it("creates KV buckets with the default byte limit, or their own and a TTL", async () => {
    assert.equal(bucketLimitDefaults().kvMaxBytes, 128 * MiB);
    await openKv(nats.kvm, "limits_default", { history: 1 });
    assert.equal((await config("KV_limits_default")).max_bytes, 128 * MiB);
    await openKv(nats.kvm, "limits_own", { history: 1, maxBytes: 2 * MiB, ttlMs: 60_000 });
    const own = await config("KV_limits_own");
    assert.equal(own.max_bytes, 2 * MiB);
    assert.equal(own.max_age, 60_000 * 1e6);
  });

  it("takes the defaults from settings (setBucketLimitDefaults)", async () => {
    const before = bucketLimitDefaults();
    setBucketLimitDefaults({ kvMaxBytes: 3 * MiB, objectStoreMaxBytes: 5 * MiB });
    try {
      await openKv(nats.kvm, "limits_configured");
      await openObjectStore(nats.objm, "limits_configured_obj");
      assert.equal((await config("KV_limits_configured")).max_bytes, 3 * MiB);
      assert.equal((await config("OBJ_limits_configured_obj")).max_bytes, 5 * MiB);
    } finally {
      setBucketLimitDefaults(before);
    }
  });

  it("puts limits on buckets that were created without them", async () => {
    await nats.kvm.create("limits_legacy", { history: 1 });
    assert.equal((await config("KV_limits_legacy")).max_bytes, -1);
    const kv = await openKv(nats.kvm, "limits_legacy", { maxBytes: 4 * MiB });
    assert.equal((await config("KV_limits_legacy")).max_bytes, 4 * MiB);
    await kv.put("still", "works");
    await nats.objm.create("limits_legacy_obj");
    await openObjectStore(nats.objm, "limits_legacy_obj", { maxBytes: 8 * MiB, ttlMs: 3_600_000 });
    const obj = await config("OBJ_limits_legacy_obj");
    assert.equal(obj.max_bytes, 8 * MiB);
    assert.equal(obj.max_age, 3_600_000 * 1e6);
  });

  it("refuses writes to a full bucket while another bucket keeps accepting them", async () => {
    const full = await openKv(nats.kvm, "limits_full", { maxBytes: 64 * 1024 });
    const other = await openKv(nats.kvm, "limits_other", { maxBytes: 64 * 1024 });
    const value = new Uint8Array(8 * 1024);
    let refused: Error | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      await full.put(`k${i}`, value).catch((error: Error) => {
        refused = error;
      });
    }
    assert.ok(refused, "a put past max_bytes is refused");
    assert.match(refused.message, /maximum bytes exceeded/i);
    await other.put("k", value);
    assert.equal((await other.get("k"))?.value.length, value.length);
  });

  it("bounds object stores (default 1 GiB) and the events stream", async () => {
    await openObjectStore(nats.objm, "limits_objects");
    assert.equal((await config("OBJ_limits_objects")).max_bytes, 1024 * MiB);
    const events = await config(EVENTS_STREAM);
    assert.equal(events.max_bytes, 32 * MiB);
    // A later start with another limit updates the existing stream.
    const again = await connectNats({ url: server.url, name: "limits-test-2", eventsMaxBytes: 48 * MiB });
    await again.close();
    assert.equal((await config(EVENTS_STREAM)).max_bytes, 48 * MiB);
  });
});
