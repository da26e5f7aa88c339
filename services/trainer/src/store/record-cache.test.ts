import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { NodeSchema, NodeState } from "@ragtune/contracts/trainer";
import { RecordCache } from "./record-cache.js";
import { createMemoryRecordStore } from "./record-store.js";

describe("RecordCache", () => {
  it("only moves forward: a record older than the one held is ignored and not passed on", async () => {
    const store = createMemoryRecordStore(NodeSchema);
    const seen: NodeState[] = [];
    const cache = new RecordCache(
      store,
      (n) => n.nodeId,
      (n) => seen.push(n.state),
    );
    const stop = await cache.follow();
    const first = await store.put("n", create(NodeSchema, { nodeId: "n", state: NodeState.READY }));
    await store.put("n", create(NodeSchema, { nodeId: "n", state: NodeState.LOST }));
    cache.apply({ value: create(NodeSchema, { nodeId: "n", state: NodeState.READY }), revision: first });
    assert.equal(cache.get("n")?.value.state, NodeState.LOST);
    assert.deepEqual(seen, [NodeState.READY, NodeState.LOST]);
    stop();
    await store.put("m", create(NodeSchema, { nodeId: "m" }));
    assert.equal(cache.get("m"), undefined);
    assert.equal((await cache.reload("m"))?.value.nodeId, "m");
    assert.equal(await cache.reload("absent"), undefined);
    assert.deepEqual(
      cache.values().map((n) => n.nodeId),
      ["n", "m"],
    );
  });
});
