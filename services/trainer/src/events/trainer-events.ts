/**
 * The trainer's facts on NATS (`ragtune.trainer.*`). Event ids are derived from the job, attempt and kind, so a
 * transition published twice (a retry after a crash) is dropped by JetStream's deduplication.
 */
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AdapterPublishedSchema,
  JobCancelledSchema,
  JobFailedSchema,
  JobPlacedSchema,
  JobProgressedSchema,
  JobQueuedSchema,
  JobStartedSchema,
  JobSucceededSchema,
  NodeLostSchema,
  NodeRegisteredSchema,
} from "@ragtune/contracts/events";
import type { Adapter, Job, JobProgress, Node } from "@ragtune/contracts/trainer";
import type { Logger } from "@ragtune/runtime";

export type PublishEvent = <D extends DescMessage>(
  subject: string,
  schema: D,
  message: MessageInitShape<D>,
) => Promise<void>;

export const TRAINER_SUBJECTS = {
  nodeRegistered: "ragtune.trainer.node.registered",
  nodeLost: "ragtune.trainer.node.lost",
  jobQueued: "ragtune.trainer.job.queued",
  jobPlaced: "ragtune.trainer.job.placed",
  jobStarted: "ragtune.trainer.job.started",
  jobProgress: "ragtune.trainer.job.progress",
  jobSucceeded: "ragtune.trainer.job.succeeded",
  jobFailed: "ragtune.trainer.job.failed",
  jobCancelled: "ragtune.trainer.job.cancelled",
  adapterPublished: "ragtune.trainer.adapter.published",
} as const;

export interface TrainerEvents {
  nodeRegistered(node: Node): Promise<void>;
  nodeLost(nodeId: string, requeuedJobId: string): Promise<void>;
  jobQueued(job: Job): Promise<void>;
  jobPlaced(job: Job): Promise<void>;
  jobStarted(job: Job): Promise<void>;
  jobProgress(job: Job, progress: JobProgress): Promise<void>;
  jobSucceeded(job: Job): Promise<void>;
  jobFailed(job: Job, final: boolean): Promise<void>;
  jobCancelled(job: Job): Promise<void>;
  adapterPublished(adapter: Adapter): Promise<void>;
}

export interface TrainerEventsOptions {
  publish: PublishEvent;
  /** e.g. "trainer@host". */
  source: string;
  now?: () => number;
  logger?: Logger;
}

export function createTrainerEvents(options: TrainerEventsOptions): TrainerEvents {
  const now = options.now ?? Date.now;
  // Events follow committed state; a lost event must not undo or fail the transition it reports.
  async function send<D extends DescMessage>(subject: string, schema: D, eventId: string, body: object) {
    const meta = { eventId, time: timestampFromMs(now()), source: options.source };
    try {
      await options.publish(subject, schema, { meta, ...body } as unknown as MessageInitShape<D>);
    } catch (error) {
      options.logger?.warn("event not published", { subject, eventId, error: String(error) });
    }
  }
  const jobEvent = (job: Job, kind: string) => `trainer-job-${job.jobId}-${job.attempt}-${kind}`;
  return {
    nodeRegistered: (node) =>
      send(TRAINER_SUBJECTS.nodeRegistered, NodeRegisteredSchema, `trainer-node-${node.nodeId}-registered-${now()}`, {
        node,
      }),
    nodeLost: (nodeId, requeuedJobId) =>
      send(TRAINER_SUBJECTS.nodeLost, NodeLostSchema, `trainer-node-${nodeId}-lost-${now()}`, {
        nodeId,
        requeuedJobId,
      }),
    jobQueued: (job) =>
      send(TRAINER_SUBJECTS.jobQueued, JobQueuedSchema, `${jobEvent(job, "queued")}-${job.lostAttempts}`, { job }),
    jobPlaced: (job) =>
      send(TRAINER_SUBJECTS.jobPlaced, JobPlacedSchema, `${jobEvent(job, "placed")}-${job.nodeId}`, { job }),
    jobStarted: (job) => send(TRAINER_SUBJECTS.jobStarted, JobStartedSchema, jobEvent(job, "started"), { job }),
    jobProgress: (job, progress) =>
      send(
        TRAINER_SUBJECTS.jobProgress,
        JobProgressedSchema,
        `${jobEvent(job, "progress")}-${progress.step}-${progress.epoch}`,
        {
          jobId: job.jobId,
          attempt: job.attempt,
          progress,
        },
      ),
    jobSucceeded: (job) => send(TRAINER_SUBJECTS.jobSucceeded, JobSucceededSchema, jobEvent(job, "succeeded"), { job }),
    jobFailed: (job, final) =>
      send(TRAINER_SUBJECTS.jobFailed, JobFailedSchema, jobEvent(job, "failed"), { job, final }),
    jobCancelled: (job) => send(TRAINER_SUBJECTS.jobCancelled, JobCancelledSchema, jobEvent(job, "cancelled"), { job }),
    adapterPublished: (adapter) =>
      send(
        TRAINER_SUBJECTS.adapterPublished,
        AdapterPublishedSchema,
        `trainer-adapter-${adapter.adapterId}-published`,
        {
          adapter,
        },
      ),
  };
}

/** Keeps events in memory (tests, and a trainer run without NATS events). */
export function createRecordingPublisher(): PublishEvent & { events: { subject: string; message: unknown }[] } {
  const events: { subject: string; message: unknown }[] = [];
  const publish = (async (subject: string, _schema: DescMessage, message: unknown) => {
    events.push({ subject, message });
  }) as PublishEvent & { events: typeof events };
  publish.events = events;
  return publish;
}
