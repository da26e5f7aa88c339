import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cpuNode, GIB, gpuNode } from "../testing/fixtures.js";
import { freeSlots, type PlacementRequest, planPlacements, slotKey } from "./placement.js";

const gpuJob = (jobId: string, gib: number): PlacementRequest => ({
  jobId,
  executor: "peft",
  needsGpu: true,
  estimatedBytes: gib * GIB,
  minGpuMemoryBytes: 0,
});

describe("placement", () => {
  const nodes = [gpuNode("a100x2", [80, 80]), gpuNode("l4", [24]), cpuNode("cpu")].map((n) => ({ ...n, state: 1 }));

  it("offers one slot per free GPU and one CPU slot, minus occupied ones", () => {
    const slots = freeSlots(nodes, new Set([slotKey("a100x2", 0)]));
    assert.deepEqual(
      slots.map((s) => slotKey(s.nodeId, s.gpuIndex)),
      ["a100x2/gpu1", "l4/gpu0", "cpu/cpu"],
    );
  });

  it("best fit keeps the big GPUs for the big jobs where first fit strands them", () => {
    const jobs = [gpuJob("small", 10), gpuJob("big-1", 60), gpuJob("big-2", 60)];
    const slots = freeSlots(nodes, new Set());
    const best = planPlacements(jobs, slots, "best-fit");
    const first = planPlacements(jobs, slots, "first-fit");
    assert.deepEqual(
      best.map((p) => [p.jobId, slotKey(p.slot.nodeId, p.slot.gpuIndex)]),
      [
        ["small", "l4/gpu0"],
        ["big-1", "a100x2/gpu0"],
        ["big-2", "a100x2/gpu1"],
      ],
    );
    assert.equal(first.length, 2);
    assert.equal(first[0].slot.nodeId, "a100x2");
  });

  it("best fit gives the GPUs of their own in priority order, a shared GPU the back of the queue", () => {
    // A node of 80 GB GPUs; gpu1 has a vLLM server holding 36 GB beside the agent, declared shared.
    const node = { ...gpuNode("h100x2", [80, 80]), state: 1 };
    node.gpus[1].memoryFreeBytes = BigInt(44 * GIB);
    node.gpus[1].shared = true;
    const slots = freeSlots([node], new Set());
    assert.deepEqual(
      slots.map((s) => s.shared),
      [false, true],
    );
    // In priority order (the longest first): the first to the GPU of its own, the last to the shared one.
    const queue = [gpuJob("longest", 20), gpuJob("middle", 20), gpuJob("shortest", 20)];
    assert.deepEqual(
      planPlacements(queue, slots, "best-fit").map((p) => [p.jobId, p.slot.gpuIndex]),
      [
        ["longest", 0],
        ["shortest", 1],
      ],
    );
    // With the own GPU busy, the shared one still takes from the back; first fit keeps plain queue order.
    const onlyShared = freeSlots([node], new Set([slotKey("h100x2", 0)]));
    const everyGpu = freeSlots([node], new Set());
    assert.equal(planPlacements(queue, onlyShared, "best-fit", everyGpu)[0].jobId, "shortest");
    assert.equal(planPlacements(queue, slots, "first-fit")[0].slot.gpuIndex, 0);
    assert.equal(planPlacements(queue, slots, "first-fit")[1].jobId, "middle");
    assert.equal(planPlacements([gpuJob("too-big", 50)], onlyShared, "best-fit", everyGpu).length, 0);
  });

  it("a job that only a shared GPU can hold goes to it in priority order", () => {
    // Own GPUs of 24 GB; a shared 80 GB GPU with 44 GB free. "big" fits only the shared one.
    const small = { ...gpuNode("l4x1", [24]), state: 1 };
    const big = { ...gpuNode("h100x1", [80]), state: 1 };
    big.gpus[0].memoryFreeBytes = BigInt(44 * GIB);
    big.gpus[0].shared = true;
    const everyGpu = freeSlots([small, big], new Set());
    const free = freeSlots([small, big], new Set([slotKey("l4x1", 0)]));
    const queue = [gpuJob("big", 30), gpuJob("small-a", 10), gpuJob("small-b", 10)];
    assert.deepEqual(
      planPlacements(queue, free, "best-fit", everyGpu).map((p) => p.jobId),
      ["big"],
    );
  });

  it("keeps executors and CPU/GPU apart, and honours the out-of-memory floor", () => {
    const slots = freeSlots(nodes, new Set());
    const reader: PlacementRequest = {
      jobId: "r",
      executor: "cpu-reader",
      needsGpu: false,
      estimatedBytes: 1,
      minGpuMemoryBytes: 0,
    };
    assert.equal(planPlacements([reader], slots, "best-fit")[0].slot.nodeId, "cpu");
    const afterOom = { ...gpuJob("oom", 10), minGpuMemoryBytes: 24 * GIB };
    assert.equal(planPlacements([afterOom], slots, "best-fit")[0].slot.nodeId, "a100x2");
    assert.equal(planPlacements([gpuJob("huge", 90)], slots, "best-fit").length, 0);
  });
});
