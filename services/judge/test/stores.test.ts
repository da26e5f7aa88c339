import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNats, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import { createMemoryStore, type JsonStore } from "../src/stores/blob-store.js";
import { createFileStore } from "../src/stores/file-store.js";
import { createNatsKvStore } from "../src/stores/nats-kv-store.js";

interface Value {
  n: number;
}

/** What every store must do; run against each implementation. */
function storeContract(name: string, make: () => Promise<JsonStore<Value>>) {
  describe(name, () => {
    it("gets what was put, and nothing for an unknown key", async () => {
      const store = await make();
      assert.equal(await store.get("a1"), undefined);
      await store.put("a1", { n: 1 });
      assert.deepEqual(await store.get("a1"), { n: 1 });
    });
    it("lets exactly one of many concurrent putIfAbsent calls win", async () => {
      const store = await make();
      const results = await Promise.all(Array.from({ length: 8 }, (_, n) => store.putIfAbsent("k", { n })));
      assert.equal(new Set(results.map((r) => r.n)).size, 1, JSON.stringify(results));
      assert.deepEqual(await store.get("k"), results[0]);
    });
  });
}

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

storeContract("memory store", async () => createMemoryStore<Value>());
storeContract("file store", async () => {
  const dir = await mkdtemp(join(tmpdir(), "judge-store-"));
  dirs.push(dir);
  return createFileStore<Value>(join(dir, "nested"));
});

describe("file store layout", () => {
  it("leaves no temp files behind and refuses keys that are not file names", async () => {
    const dir = await mkdtemp(join(tmpdir(), "judge-store-"));
    dirs.push(dir);
    const store = createFileStore<Value>(dir);
    await store.put("x", { n: 1 });
    await store.putIfAbsent("x", { n: 2 });
    assert.deepEqual(await readdir(dir), ["x.json"]);
    await assert.rejects(store.put("../evil", { n: 0 }), /characters a file name can't/);
  });
});

describe("NATS KV store", () => {
  let nats: LocalNats;
  let handle: NatsHandle;
  let bucket = 0;
  before(async () => {
    nats = await startTestNats();
    handle = await connectNats({ url: nats.url, name: "judge-store-test" });
  });
  after(async () => {
    await handle.close();
    await nats.stop();
  });
  it("answers UNAVAILABLE when NATS cannot be reached", async () => {
    const own = await connectNats({ url: nats.url, name: "judge-store-test-closing" });
    const store = createNatsKvStore<Value>(await own.kvm.create("judge-test-closing"));
    await own.close();
    await assert.rejects(store.get("k"), (e: unknown) => e instanceof ConnectError && e.code === Code.Unavailable);
  });
  storeContract("over a real bucket", async () =>
    createNatsKvStore<Value>(await handle.kvm.create(`judge-test-${bucket++}`), "p."),
  );
});
