/** Builders shared by the trainer's tests and bench. */
import assert from "node:assert/strict";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Code, ConnectError } from "@connectrpc/connect";
import { FineTuneMethod } from "@ragtune/contracts/common";
import {
  AdapterSchema,
  JobSchema,
  type JobSpecSchema,
  type Node,
  NodeSchema,
  type SubmitJobRequest,
  SubmitJobRequestSchema,
} from "@ragtune/contracts/trainer";
import { createRecordingPublisher, createTrainerEvents } from "../events/trainer-events.js";
import { TrainerScheduler, type SchedulerOptions } from "../scheduler/scheduler.js";
import { createMemoryRecordStore } from "../store/record-store.js";

export const GIB = 1024 ** 3;

export function gpuNode(nodeId: string, gpuGiB: number[], executors = ["peft"]): Node {
  return create(NodeSchema, {
    nodeId,
    hostname: nodeId,
    executors,
    gpus: gpuGiB.map((gib, index) => ({
      index,
      name: `GPU ${gib}GB`,
      memoryTotalBytes: BigInt(gib * GIB),
      memoryFreeBytes: BigInt(gib * GIB),
    })),
    hostMemoryBytes: BigInt(64 * GIB),
  });
}

export function cpuNode(nodeId: string): Node {
  return create(NodeSchema, {
    nodeId,
    hostname: nodeId,
    executors: ["cpu-reader", "openai"],
    hostMemoryBytes: BigInt(16 * GIB),
  });
}

export function peftSubmit(
  jobId: string,
  overrides: Omit<MessageInitShape<typeof JobSpecSchema>, "$typeName"> = {},
  extra: { priority?: number; maxAttempts?: number } = {},
): SubmitJobRequest {
  return create(SubmitJobRequestSchema, {
    jobId,
    ...extra,
    spec: {
      baseModel: "mistralai/Mistral-7B-Instruct-v0.2",
      method: FineTuneMethod.QLORA,
      trainingData: { manifestUri: "/tmp/none.json", pool: "finetune-200", size: 200 },
      loraRank: 16,
      loraAlpha: 32,
      ...overrides,
    },
  });
}

export function readerSubmit(jobId: string, manifestUri = "/tmp/none.json", pool = "finetune-200"): SubmitJobRequest {
  return create(SubmitJobRequestSchema, {
    jobId,
    spec: {
      baseModel: "extractive-reader",
      trainingData: { manifestUri, pool },
      loraRank: 1,
      loraAlpha: 1,
      epochs: 1,
      microBatchSize: 1,
    },
  });
}

/** A scheduler on in-memory stores with a settable clock and recorded events. */
export function createTestScheduler(options: Partial<SchedulerOptions> = {}) {
  const clock = { ms: Date.parse("2026-01-01T00:00:00Z") };
  const publish = createRecordingPublisher();
  const stores = {
    jobs: createMemoryRecordStore(JobSchema),
    nodes: createMemoryRecordStore(NodeSchema),
    adapters: createMemoryRecordStore(AdapterSchema),
  };
  const scheduler = new TrainerScheduler({
    stores,
    events: createTrainerEvents({ publish, source: "trainer@test", now: () => clock.ms }),
    now: () => clock.ms,
    heartbeatIntervalMs: 1000,
    retryPolicy: { baseBackoffMs: 1000, maxBackoffMs: 8000 },
    ...options,
  });
  const subjects = () => publish.events.map((e) => e.subject.replace("ragtune.trainer.", ""));
  return { scheduler, clock, publish, stores, subjects };
}

/** Asserts that `promise` fails with this gRPC code and a message (field path first) matching `pattern`. */
export async function assertRejectsWith(promise: Promise<unknown>, code: Code, pattern: RegExp = /./) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.rawMessage, pattern);
    return true;
  });
}
