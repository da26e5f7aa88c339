/**
 * The trainer's gauges, read when metrics are collected: jobs waiting for a GPU (queue depth) and each node's
 * GPU memory in use as of its last heartbeat. No-ops unless initTelemetry exports metrics.
 */
import { JobState } from "@ragtune/contracts/trainer";
import { observeGauge } from "@ragtune/runtime";
import type { TrainerScheduler } from "../scheduler/scheduler.js";

/** Starts observing; returns a function that stops. */
export function observeTrainerGauges(scheduler: TrainerScheduler): () => void {
  const stopQueue = observeGauge(
    "ragtune.trainer.queue.depth",
    { unit: "{job}", description: "Training jobs by state: queued (waiting for a GPU), placed and running" },
    () =>
      [JobState.QUEUED, JobState.PLACED, JobState.RUNNING].map((state) => ({
        value: scheduler.listJobs([state], Number.MAX_SAFE_INTEGER, "").jobs.length,
        attributes: { "ragtune.job.state": JobState[state].toLowerCase() },
      })),
  );
  const stopMemory = observeGauge(
    "ragtune.node.gpu.memory.used",
    { unit: "By", description: "GPU memory in use per node and device, as of the node's last heartbeat" },
    () =>
      scheduler.listNodes().flatMap((node) =>
        node.gpus.map((gpu) => ({
          value: Number(gpu.memoryTotalBytes - gpu.memoryFreeBytes),
          attributes: { "ragtune.node.id": node.nodeId, "ragtune.gpu.index": gpu.index },
        })),
      ),
  );
  return () => {
    stopQueue();
    stopMemory();
  };
}
