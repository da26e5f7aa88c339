/**
 * Placement of queued jobs onto free slots: one job per GPU (a LoRA fine-tune owns its card), plus one CPU slot
 * per node for jobs that need no GPU. Best fit puts each job on the smallest slot that holds its memory estimate,
 * keeping large GPUs free for large jobs; first fit (the GPU-counting baseline) takes the first slot that fits.
 */
import type { Node } from "@ragtune/contracts/trainer";
import { NodeState } from "@ragtune/contracts/trainer";

export type PlacementStrategy = "best-fit" | "first-fit";

export interface Slot {
  nodeId: string;
  /** Undefined for the CPU slot. */
  gpuIndex?: number;
  /** Memory available to a job, By (free GPU memory, or host memory for the CPU slot). */
  memoryBytes: number;
  /** Total memory of the GPU, By; what an out-of-memory retry must exceed. */
  totalMemoryBytes: number;
  executors: readonly string[];
}

export interface PlacementRequest {
  jobId: string;
  executor: string;
  needsGpu: boolean;
  estimatedBytes: number;
  /** Only GPUs with more total memory than this (after an out-of-memory failure). */
  minGpuMemoryBytes: number;
}

export interface Placement {
  jobId: string;
  slot: Slot;
}

export function slotKey(nodeId: string, gpuIndex: number | undefined): string {
  return gpuIndex === undefined ? `${nodeId}/cpu` : `${nodeId}/gpu${gpuIndex}`;
}

/** Host memory assumed for a node that did not report it. */
const UNKNOWN_HOST_MEMORY = 2 * 1024 ** 3;

/** Slots of ready nodes that no active job holds. */
export function freeSlots(nodes: Iterable<Node>, occupied: ReadonlySet<string>): Slot[] {
  const slots: Slot[] = [];
  for (const node of nodes) {
    if (node.state !== NodeState.READY) continue;
    const gpuExecutors = node.executors.filter((e) => e === "peft");
    const cpuExecutors = node.executors.filter((e) => e !== "peft");
    if (gpuExecutors.length) {
      for (const gpu of node.gpus) {
        if (occupied.has(slotKey(node.nodeId, gpu.index))) continue;
        const total = Number(gpu.memoryTotalBytes);
        const free = Number(gpu.memoryFreeBytes);
        slots.push({
          nodeId: node.nodeId,
          gpuIndex: gpu.index,
          memoryBytes: free > 0 ? Math.min(free, total) : total,
          totalMemoryBytes: total,
          executors: gpuExecutors,
        });
      }
    }
    if (cpuExecutors.length && !occupied.has(slotKey(node.nodeId, undefined))) {
      const host = Number(node.hostMemoryBytes) || UNKNOWN_HOST_MEMORY;
      slots.push({ nodeId: node.nodeId, memoryBytes: host, totalMemoryBytes: host, executors: cpuExecutors });
    }
  }
  return slots;
}

export function fits(request: PlacementRequest, slot: Slot): boolean {
  if (!slot.executors.includes(request.executor)) return false;
  if (request.needsGpu !== (slot.gpuIndex !== undefined)) return false;
  if (slot.memoryBytes < request.estimatedBytes) return false;
  return !request.needsGpu || slot.totalMemoryBytes > request.minGpuMemoryBytes;
}

/**
 * Assigns jobs, in the order given (the caller orders by priority), to slots; each slot takes one job. Jobs that
 * fit no free slot stay queued and do not block the jobs behind them.
 */
export function planPlacements(
  requests: readonly PlacementRequest[],
  slots: readonly Slot[],
  strategy: PlacementStrategy,
): Placement[] {
  const free = [...slots];
  const placements: Placement[] = [];
  for (const request of requests) {
    if (free.length === 0) break;
    let chosen = -1;
    for (let i = 0; i < free.length; i++) {
      const slot = free[i];
      if (!fits(request, slot)) continue;
      if (strategy === "first-fit") {
        chosen = i;
        break;
      }
      if (chosen < 0 || slot.memoryBytes < free[chosen].memoryBytes) chosen = i;
    }
    if (chosen < 0) continue;
    placements.push({ jobId: request.jobId, slot: free[chosen] });
    free.splice(chosen, 1);
  }
  return placements;
}
