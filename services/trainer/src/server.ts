import { TrainerService } from "@ragtune/contracts/trainer";
import { AdapterSchema, JobSchema, NodeSchema } from "@ragtune/contracts/trainer";
import type { BuiltService, Logger, NatsHandle, ServiceContext } from "@ragtune/runtime";
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { NODE_AGENT_METHODS } from "./agent-auth.js";
import type { trainerSettings } from "./config.js";
import { createTrainerEvents } from "./events/trainer-events.js";
import { DEFAULT_RETRY_POLICY } from "./scheduler/job-lifecycle.js";
import type { PlacementStrategy } from "./scheduler/placement.js";
import { type SchedulerStores, TrainerScheduler } from "./scheduler/scheduler.js";
import { createObjectReader, createPoolSizeReader, type ManifestLimits } from "./manifest-access.js";
import { TrainerServiceImpl } from "./service.js";
import { observeTrainerGauges } from "./telemetry/trainer-gauges.js";
import { createKvRecordStore, openKvBucket } from "./store/kv-record-store.js";
import { createKvPlacementLease } from "./store/placement-lease.js";
import { createKvSlotClaims } from "./store/slot-claims.js";

type TrainerContext = ServiceContext<typeof trainerSettings>;

export { createObjectReader };

export async function openTrainerStores(
  nats: NatsHandle,
  prefix = "ragtune_trainer",
  replicas = 1,
): Promise<SchedulerStores> {
  const [jobs, nodes, adapters] = await Promise.all(
    ["jobs", "nodes", "adapters"].map((name) => openKvBucket(nats.kvm, `${prefix}_${name}`, { replicas })),
  );
  return {
    jobs: createKvRecordStore(jobs, JobSchema),
    nodes: createKvRecordStore(nodes, NodeSchema),
    adapters: createKvRecordStore(adapters, AdapterSchema),
  };
}

export interface TrainerParts {
  nats: NatsHandle;
  logger?: Logger;
  heartbeatIntervalMs?: number;
  placement?: PlacementStrategy;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Lost-node attempts a job may have before it fails for good. Default 3. */
  maxLostAttempts?: number;
  bucketPrefix?: string;
  kvReplicas?: number;
  /** Where job manifests may be read from besides the Object Store, and how much; default: the Object Store only. */
  manifests?: ManifestLimits;
  /** How long a replica's placement lease lasts without renewal, ms. Default 3 heartbeat intervals. */
  leaseTtlMs?: number;
}

/** The scheduler on NATS KV with events on JetStream, started. */
export async function createTrainerScheduler(parts: TrainerParts): Promise<TrainerScheduler> {
  const prefix = parts.bucketPrefix ?? "ragtune_trainer";
  const leaseBucket = await openKvBucket(parts.nats.kvm, `${prefix}_lease`, { replicas: parts.kvReplicas });
  const scheduler = new TrainerScheduler({
    stores: await openTrainerStores(parts.nats, prefix, parts.kvReplicas),
    lease: createKvPlacementLease(
      leaseBucket,
      `trainer@${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`,
      parts.leaseTtlMs ?? 3 * (parts.heartbeatIntervalMs ?? 5000),
    ),
    slots: createKvSlotClaims(leaseBucket),
    events: createTrainerEvents({
      publish: (subject, schema, message) => parts.nats.publishEvent(subject, schema, message),
      source: `trainer@${hostname()}`,
      logger: parts.logger,
    }),
    strategy: parts.placement,
    heartbeatIntervalMs: parts.heartbeatIntervalMs,
    retryPolicy: {
      baseBackoffMs: parts.retryBaseMs ?? DEFAULT_RETRY_POLICY.baseBackoffMs,
      maxBackoffMs: parts.retryMaxMs ?? DEFAULT_RETRY_POLICY.maxBackoffMs,
      maxLostAttempts: parts.maxLostAttempts ?? DEFAULT_RETRY_POLICY.maxLostAttempts,
    },
    logger: parts.logger,
    poolSize: createPoolSizeReader(parts.nats, parts.manifests),
  });
  await scheduler.start();
  return scheduler;
}

/** Builds the trainer for runService. */
export async function build(ctx: TrainerContext): Promise<BuiltService> {
  const scheduler = await createTrainerScheduler({
    nats: ctx.nats,
    logger: ctx.logger,
    heartbeatIntervalMs: ctx.config.heartbeatIntervalMs,
    placement: ctx.config.placement as PlacementStrategy,
    retryBaseMs: ctx.config.retryBaseMs,
    retryMaxMs: ctx.config.retryMaxMs,
    maxLostAttempts: ctx.config.maxLostAttempts,
    bucketPrefix: ctx.config.bucketPrefix,
    kvReplicas: ctx.config.kvReplicas,
    manifests: {
      roots: ctx.config.manifestRoots,
      maxBytes: ctx.config.manifestMaxBytes,
      timeoutMs: ctx.config.manifestTimeoutMs,
    },
  });
  const stopGauges = observeTrainerGauges(scheduler);
  return {
    services: [{ service: TrainerService, impl: new TrainerServiceImpl(scheduler) }],
    nodeMethods: NODE_AGENT_METHODS,
    onShutdown: () => {
      stopGauges();
      return scheduler.stop();
    },
  };
}
