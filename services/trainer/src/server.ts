import { TrainerService } from "@ragtune/contracts/trainer";
import { AdapterSchema, JobSchema, NodeSchema } from "@ragtune/contracts/trainer";
import type { BuiltService, Logger, NatsHandle, ServiceContext } from "@ragtune/runtime";
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { trainerSettings } from "./config.js";
import { createTrainerEvents } from "./events/trainer-events.js";
import { findPool, type ObjectReader, parseManifest, readManifestBytes } from "@ragtune/datasets";
import type { PlacementStrategy } from "./scheduler/placement.js";
import { type SchedulerStores, TrainerScheduler } from "./scheduler/scheduler.js";
import { TrainerServiceImpl } from "./service.js";
import { createKvRecordStore, openKvBucket } from "./store/kv-record-store.js";
import { createKvPlacementLease } from "./store/placement-lease.js";

type TrainerContext = ServiceContext<typeof trainerSettings>;

/** Reads nats-obj://bucket/name through the Object Store. */
export function createObjectReader(nats: NatsHandle): ObjectReader {
  return async (bucket, name) => {
    const store = await nats.objm.open(bucket);
    return store.getBlob(name);
  };
}

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
  bucketPrefix?: string;
  kvReplicas?: number;
  /** How long a replica's placement lease lasts without renewal, ms. Default 3 heartbeat intervals. */
  leaseTtlMs?: number;
}

/** The scheduler on NATS KV with events on JetStream, started. */
export async function createTrainerScheduler(parts: TrainerParts): Promise<TrainerScheduler> {
  const readObject = createObjectReader(parts.nats);
  const prefix = parts.bucketPrefix ?? "ragtune_trainer";
  const leaseBucket = await openKvBucket(parts.nats.kvm, `${prefix}_lease`, { replicas: parts.kvReplicas });
  const scheduler = new TrainerScheduler({
    stores: await openTrainerStores(parts.nats, prefix, parts.kvReplicas),
    lease: createKvPlacementLease(
      leaseBucket,
      `trainer@${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`,
      parts.leaseTtlMs ?? 3 * (parts.heartbeatIntervalMs ?? 5000),
    ),
    events: createTrainerEvents({
      publish: (subject, schema, message) => parts.nats.publishEvent(subject, schema, message),
      source: `trainer@${hostname()}`,
      logger: parts.logger,
    }),
    strategy: parts.placement,
    heartbeatIntervalMs: parts.heartbeatIntervalMs,
    retryPolicy:
      parts.retryBaseMs !== undefined
        ? { baseBackoffMs: parts.retryBaseMs, maxBackoffMs: parts.retryMaxMs ?? 300_000 }
        : undefined,
    logger: parts.logger,
    poolSize: async (ref) => {
      const bytes = await readManifestBytes(ref.manifestUri, readObject);
      return findPool(parseManifest(bytes), ref.pool).items.length;
    },
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
    bucketPrefix: ctx.config.bucketPrefix,
    kvReplicas: ctx.config.kvReplicas,
  });
  return {
    services: [{ service: TrainerService, impl: new TrainerServiceImpl(scheduler) }],
    onShutdown: () => scheduler.stop(),
  };
}
