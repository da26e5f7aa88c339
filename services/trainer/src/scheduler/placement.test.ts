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
