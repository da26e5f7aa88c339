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

  it("best fit takes a GPU that another process shares only when no GPU of its own holds the job", () => {
    // A node of 80 GB GPUs; gpu1 has a vLLM server holding 36 GB beside the agent.
    const node = gpuNode("h100x2", [80, 80]);
    node.gpus[1].memoryFreeBytes = BigInt(44 * GIB);
    const slots = freeSlots([{ ...node, state: 1 }], new Set());
    assert.deepEqual(
      slots.map((s) => s.shared),
      [false, true],
    );
    const placed = planPlacements([gpuJob("longest", 20), gpuJob("next", 20)], slots, "best-fit");
    assert.deepEqual(
      placed.map((p) => [p.jobId, p.slot.gpuIndex]),
      [
        ["longest", 0],
        ["next", 1],
      ],
    );
    // With the unshared GPU taken, the shared one still takes a job that fits it.
    const onlyShared = freeSlots([{ ...node, state: 1 }], new Set([slotKey("h100x2", 0)]));
    assert.equal(planPlacements([gpuJob("j", 20)], onlyShared, "best-fit")[0].slot.gpuIndex, 1);
    assert.equal(planPlacements([gpuJob("too-big", 50)], onlyShared, "best-fit").length, 0);
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
