import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { GpuSchema, NodeSchema, NodeState } from "@ragtune/contracts/trainer";
import { createMemoryRecordStore } from "../store/record-store.js";
import { cpuNode, GIB, gpuNode } from "../testing/fixtures.js";
import { NodeRegistry } from "./node-registry.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");

function registry() {
  const store = createMemoryRecordStore(NodeSchema);
  const clock = { ms: T0 };
  return { store, clock, nodes: new NodeRegistry(store, 1000, () => clock.ms) };
}

describe("NodeRegistry", () => {
  it("registers a node READY as of now and takes GPU free memory from heartbeats", async () => {
    const { nodes } = registry();
    const node = await nodes.save(nodes.registered(gpuNode("g", [24, 80]), T0));
    assert.equal(node.state, NodeState.READY);
    assert.equal(node.lastHeartbeatTime?.seconds, timestampFromMs(T0).seconds);
    const free = create(GpuSchema, { index: 1, memoryFreeBytes: BigInt(10 * GIB) });
    const { node: beat, wasLost } = nodes.heartbeat("g", [free], T0 + 500);
    assert.equal(wasLost, false);
    assert.equal(beat.gpus[1].memoryFreeBytes, BigInt(10 * GIB));
    assert.equal(beat.gpus[0].memoryFreeBytes, BigInt(24 * GIB));
    assert.throws(
      () => nodes.heartbeat("never-registered", [], T0),
      (e: unknown) => e instanceof ConnectError && e.code === Code.NotFound,
    );
  });

  it("counts a node silent after 3 missed periods, from its latest call, stored heartbeat or the start", async () => {
    const { nodes } = registry();
    nodes.startGracePeriod(T0);
    const node = await nodes.save(nodes.registered(cpuNode("c"), T0));
    assert.equal(nodes.isSilent(node, T0 + 3000), false);
    assert.equal(nodes.isSilent(node, T0 + 3001), true);
    // A heartbeat that could not be stored (NATS down) still counts as the node calling in.
    nodes.heartbeat("c", [], T0 + 2500);
    assert.equal(nodes.isSilent(node, T0 + 5000), false);
    assert.equal(nodes.isSilent(node, T0 + 5501), true);
    const lost = await nodes.markLost(node);
    assert.ok(lost);
    assert.equal(lost.state, NodeState.LOST);
    assert.equal(nodes.isSilent(lost, T0 + 60_000), false, "a lost node is not lost again");
    assert.equal(nodes.heartbeat("c", [], T0 + 70_000).wasLost, true);
  });

  it("gives every stored node a full grace period after a restart, however old its heartbeat", async () => {
    const { store } = registry();
    const stale = create(NodeSchema, {
      ...cpuNode("old"),
      state: NodeState.READY,
      lastHeartbeatTime: timestampFromMs(T0),
    });
    await store.put("old", stale);
    const restarted = new NodeRegistry(store, 1000, () => T0 + 3_600_000);
    restarted.startGracePeriod(T0 + 3_600_000);
    await restarted.load();
    const [node] = restarted.all();
    assert.equal(node.nodeId, "old");
    assert.equal(restarted.isSilent(node, T0 + 3_600_000 + 2000), false);
    assert.equal(restarted.isSilent(node, T0 + 3_600_000 + 3001), true);
  });

  it("finds the largest GPU among nodes not lost, for any executor or one", async () => {
    const { nodes } = registry();
    await nodes.save(nodes.registered(gpuNode("l4", [24]), T0));
    await nodes.save(nodes.registered(gpuNode("hosted", [48], ["openai"]), T0));
    const big = await nodes.save(nodes.registered(gpuNode("a100", [80, 40]), T0));
    assert.equal(nodes.largestGpuBytes(), 80 * GIB);
    assert.equal(nodes.largestGpuFor("peft")?.nodeId, "a100");
    await nodes.markLost(big);
    assert.equal(nodes.largestGpuBytes(), 48 * GIB);
    assert.equal(nodes.largestGpuFor("peft")?.nodeId, "l4");
    assert.equal(nodes.largestGpuFor("cpu-reader"), undefined);
    assert.equal(nodes.gpu("a100", 1)?.memoryTotalBytes, BigInt(40 * GIB));
    assert.equal(nodes.gpu("a100", undefined), undefined);
  });

  it("judges silence by its own clock from when it saw a heartbeat stored, never by another replica's timestamp", async () => {
    const { store, clock, nodes } = registry();
    const stop = await nodes.follow();
    nodes.startGracePeriod(T0);
    // Another replica, whose clock is an hour behind, stores the node's heartbeats.
    const other = new NodeRegistry(store, 1000, () => T0 - 3_600_000);
    await other.follow();
    await other.save(other.registered(cpuNode("n"), T0 - 3_600_000));
    clock.ms += 2500;
    await other.save(other.heartbeat("n", [], T0 - 3_600_000 + 2500).node);
    const [node] = nodes.all();
    assert.equal(nodes.isSilent(node, clock.ms + 2999), false, "an hour-old timestamp is not an hour of silence");
    assert.equal(nodes.isSilent(node, clock.ms + 3001), true);
    // A replica about to mark it lost loses the race to a heartbeat stored meanwhile: the node stays.
    const racer = new NodeRegistry(store, 1000); // follows no watch: its view goes stale
    await racer.load();
    await other.save(other.heartbeat("n", [], T0 - 3_600_000 + 5000).node);
    assert.equal(await racer.markLost(racer.all()[0]), undefined);
    assert.equal((await store.get("n"))?.value.state, NodeState.READY);
    stop();
  });

  it("follows writes from other replicas and ignores older revisions", async () => {
    const { store, nodes } = registry();
    const stop = await nodes.follow();
    await store.put("n", nodes.registered(cpuNode("n"), T0));
    assert.equal(nodes.has("n"), true);
    const lost = create(NodeSchema, { ...cpuNode("n"), state: NodeState.LOST });
    await store.put("n", lost);
    await nodes.load();
    assert.equal(nodes.all()[0].state, NodeState.LOST);
    stop();
  });
});
