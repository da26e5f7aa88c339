/**
 * The node's GPUs from `nvidia-smi`; a machine without it (or without NVIDIA GPUs) is a CPU-only node.
 */
import { create } from "@bufbuild/protobuf";
import { type Gpu, GpuSchema } from "@ragtune/contracts/trainer";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const MIB = 1024 * 1024;

export const NVIDIA_SMI_ARGS = ["--query-gpu=index,name,memory.total,memory.free", "--format=csv,noheader,nounits"];

/** Parses `nvidia-smi --query-gpu=index,name,memory.total,memory.free --format=csv,noheader,nounits` (MiB). */
export function parseNvidiaSmiCsv(csv: string): Gpu[] {
  return csv
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const parts = line.split(",").map((p) => p.trim());
      const [index, total, free] = [parts[0], parts.at(-2), parts.at(-1)].map(Number);
      // GPU names may hold commas; they sit between the index and the two numbers.
      const name = parts.slice(1, -2).join(",");
      if (![index, total, free].every(Number.isFinite)) throw new Error(`unexpected nvidia-smi line: ${line}`);
      return create(GpuSchema, {
        index,
        name,
        memoryTotalBytes: BigInt(Math.round(total * MIB)),
        memoryFreeBytes: BigInt(Math.round(free * MIB)),
      });
    });
}

/** [] when nvidia-smi is missing or fails. */
/** The GPUs with those the operator said another workload shares (AGENT_SHARED_GPUS) marked `shared`. */
export function markSharedGpus(gpus: Gpu[], sharedIndices: ReadonlySet<number>): Gpu[] {
  for (const gpu of gpus) gpu.shared = sharedIndices.has(gpu.index);
  return gpus;
}

export async function probeGpus(binary = "nvidia-smi"): Promise<Gpu[]> {
  try {
    const { stdout } = await promisify(execFile)(binary, NVIDIA_SMI_ARGS, { timeout: 10_000 });
    return parseNvidiaSmiCsv(stdout);
  } catch {
    return [];
  }
}
