import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectNats, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import { type ContextStore, createKvContextStore, createMemoryContextStore } from "./question-contexts.js";

const chunks = (tag: string) => [
  { text: `first chunk ${tag}`, sourceId: "doc-1#0", score: 0.8125 },
  { text: `second chunk ${tag}`, sourceId: "doc-2#3", score: 0.1 + 0.2 },
];

/** The same behaviour asked of both stores: the gateway runs on the KV one, tests on the memory one. */
function behavesAsAContextStore(open: () => Promise<ContextStore>) {
  it("keeps a question's chunks once: a second keep gets the first's back, as every reader does", async () => {
    const store = (await open()).forDataset("exp", "nq");
    assert.equal(await store.find("item/with spaces.and.dots"), undefined);
    assert.deepEqual(await store.keep("item/with spaces.and.dots", chunks("a")), chunks("a"));
    assert.deepEqual(await store.keep("item/with spaces.and.dots", chunks("b")), chunks("a"), "first write wins");
    assert.deepEqual(await store.get("item/with spaces.and.dots"), chunks("a"));
    assert.deepEqual(await store.find("item/with spaces.and.dots"), chunks("a"));
  });

  it("refuses to give a cell nothing for a question whose chunks were lost", async () => {
    const store = (await open()).forDataset("exp", "nq");
    await assert.rejects(
      store.get("never kept"),
      /no retrieved chunks are kept for question "never kept" of dataset nq/,
    );
  });

  it("keeps experiments and datasets apart, and forgets exactly one experiment's", async () => {
    const contexts = await open();
    // Experiment "a" dataset "b" and experiment "a.b": neither may see or drop the other's chunks.
    await contexts.forDataset("a", "b").keep("q", chunks("a/b"));
    await contexts.forDataset("a.b", "b").keep("q", chunks("a.b/b"));
    await contexts.forDataset("a", "c").keep("q", chunks("a/c"));
    assert.deepEqual(await contexts.forDataset("a.b", "b").get("q"), chunks("a.b/b"));
    assert.deepEqual(await contexts.forDataset("a", "c").get("q"), chunks("a/c"));

    await contexts.forget("a");
    assert.equal(await contexts.forDataset("a", "b").find("q"), undefined);
    assert.equal(await contexts.forDataset("a", "c").find("q"), undefined);
    assert.deepEqual(await contexts.forDataset("a.b", "b").get("q"), chunks("a.b/b"));
  });
}

describe("question contexts in memory", () => {
  let store: ContextStore | undefined;
  behavesAsAContextStore(async () => {
    store ??= createMemoryContextStore();
    return store;
  });
});

describe("question contexts in NATS KV", () => {
  let nats: LocalNats;
  let handle: NatsHandle;
  before(async () => {
    nats = await startTestNats();
    handle = await connectNats({ url: nats.url, name: "question-contexts-test" });
  });
  after(async () => {
    await handle?.close();
    await nats?.stop();
  });
  behavesAsAContextStore(() => createKvContextStore(handle));

  it("is read by a gateway started afterwards (a run adopted after a restart)", async () => {
    await (await createKvContextStore(handle)).forDataset("restart", "bioasq").keep("q1", chunks("kept"));
    const other = await connectNats({ url: nats.url, name: "question-contexts-test-2" });
    try {
      assert.deepEqual(
        await (await createKvContextStore(other)).forDataset("restart", "bioasq").get("q1"),
        chunks("kept"),
      );
    } finally {
      await other.close();
    }
  });
});
