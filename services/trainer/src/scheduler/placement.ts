/**
 * Placement of queued jobs onto free slots: one job per GPU (a LoRA fine-tune owns its card), plus one CPU slot
 * per node for jobs that need no GPU. Best fit puts each job on the smallest slot that holds its memory estimate,
 * keeping large GPUs free for large jobs; first fit (the GPU-counting baseline) takes the first slot that fits.
 * A GPU that another workload shares (a vLLM server beside the agent, declared by the operator) trains
 * time-sliced, slower: best fit keeps the queue's head for GPUs of their own (planPlacements).
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
  /** Another workload shares the GPU's time (its agent reports it so, from the operator's AGENT_SHARED_GPUS). */
  shared: boolean;
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
          shared: gpu.shared,
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

/** Places `requests` in order on `free` (taking the slots it uses out of it). */
function placeInOrder(requests: readonly PlacementRequest[], free: Slot[], strategy: PlacementStrategy): Placement[] {
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

/**
 * Assigns jobs, in the order given (the caller orders by priority), to slots; each slot takes one job. Jobs that
 * fit no free slot stay queued and do not block the jobs behind them.
 * Best fit gives the GPUs of their own in that order. Shared GPUs are the node's background capacity: they take
 * from the back of the queue (under size priority, the shortest jobs) what a GPU of its own could also run, so a
 * slow GPU never holds a job the queue put first; a job only a shared GPU can hold (`everyGpu`: all the GPU slots,
 * free or not) is taken in order.
 */
export function planPlacements(
  requests: readonly PlacementRequest[],
  slots: readonly Slot[],
  strategy: PlacementStrategy,
  everyGpu: readonly Slot[] = slots,
): Placement[] {
  const free = [...slots];
  if (strategy === "first-fit") return placeInOrder(requests, free, strategy);
  const ownFree = free.filter((slot) => !slot.shared);
  const placements = placeInOrder(requests, ownFree, strategy);
  const sharedFree = free.filter((slot) => slot.shared);
  if (sharedFree.length === 0) return placements;
  const placed = new Set(placements.map((p) => p.jobId));
  const left = requests.filter((r) => !placed.has(r.jobId));
  const ownGpus = everyGpu
    .filter((slot) => !slot.shared)
    .map((slot) => ({ ...slot, memoryBytes: slot.totalMemoryBytes }));
  const anOwnGpuHolds = (r: PlacementRequest) => ownGpus.some((slot) => fits(r, slot));
  const onlyShared = left.filter((r) => !anOwnGpuHolds(r));
  const background = left.filter(anOwnGpuHolds).reverse();
  return [...placements, ...placeInOrder([...onlyShared, ...background], sharedFree, strategy)];
}
