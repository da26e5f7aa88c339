/**
 * The agent's long poll (AcquireJob): hands a node its next placed job, starting a new attempt, or holds the call
 * open until one is placed there, the wait runs out or the caller goes away. Starting the attempt is a revision-
 * checked transition, so of two replicas answering the same node only one starts the job.
 */
import { type Job, JobState } from "@ragtune/contracts/trainer";
import { notFound } from "@ragtune/runtime";
import type { TrainerEvents } from "../events/trainer-events.js";
import { startAttempt } from "./job-lifecycle.js";
import { byPriority, type JobQueue } from "./job-queue.js";
import type { NodeRegistry } from "./node-registry.js";

export interface LongPollParts {
  jobs: JobQueue;
  nodes: Pick<NodeRegistry, "has">;
  events: Pick<TrainerEvents, "jobStarted">;
  now: () => number;
}

/** The node's next job, RUNNING as a new attempt; undefined when none was placed there within `waitMs`. */
export async function acquireJob(
  parts: LongPollParts,
  nodeId: string,
  waitMs: number,
  signal?: AbortSignal,
): Promise<Job | undefined> {
  const { jobs } = parts;
  if (!parts.nodes.has(nodeId)) throw notFound("node", nodeId);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const placed = jobs
      .activeOn(nodeId)
      .filter((j) => j.state === JobState.PLACED)
      .sort(byPriority);
    for (const candidate of placed) {
      const { job, changed } = await jobs.mutate(
        candidate.jobId,
        (j) => j.nodeId === nodeId && startAttempt(j, parts.now()),
      );
      if (changed) {
        await parts.events.jobStarted(job);
        return job;
      }
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal?.aborted) return undefined;
    await jobs.waitFor((job) => job.nodeId === nodeId && job.state === JobState.PLACED, remaining, signal);
  }
}
