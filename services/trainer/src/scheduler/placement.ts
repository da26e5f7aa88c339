/**
 * Placement of queued jobs onto free slots: one job per GPU (a LoRA fine-tune owns its card), plus one CPU slot
 * per node for jobs that need no GPU. Best fit puts each job on the smallest slot that holds its memory estimate,
 * keeping large GPUs free for large jobs; first fit (the GPU-counting baseline) takes the first slot that fits.
 * Best fit also takes a GPU that another process uses (a vLLM server beside the agent) only when no GPU of its own
 * holds the job: a job there time-slices the GPU and trains slower, so the highest-priority jobs (the longest)
 * get the GPUs they have to themselves.
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
  /** Another process holds a good part of the GPU's memory (SHARED_GPU_USED_SHARE): it shares the GPU's time. */
  shared: boolean;
}

/** Of a GPU's memory, what others must hold before it counts as shared (drivers and CUDA contexts hold less). */
export const SHARED_GPU_USED_SHARE = 0.1;

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
          shared: free > 0 && total - free > SHARED_GPU_USED_SHARE * total,
        });
      }
    }
    if (cpuExecutors.length && !occupied.has(slotKey(node.nodeId, undefined))) {
      const host = Number(node.hostMemoryBytes) || UNKNOWN_HOST_MEMORY;
      slots.push({
        nodeId: node.nodeId,
        memoryBytes: host,
        totalMemoryBytes: host,
        executors: cpuExecutors,
        shared: false,
      });
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

/** Best fit's order: a GPU of its own before a shared one, then the smaller. */
function betterFit(slot: Slot, than: Slot): boolean {
  if (slot.shared !== than.shared) return !slot.shared;
  return slot.memoryBytes < than.memoryBytes;
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
      if (chosen < 0 || betterFit(slot, free[chosen])) chosen = i;
    }
    if (chosen < 0) continue;
    placements.push({ jobId: request.jobId, slot: free[chosen] });
    free.splice(chosen, 1);
  }
  return placements;
}
