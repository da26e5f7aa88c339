/** The gateway process: ExperimentService over a durable experiment store, running experiments across services. */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { ExperimentService } from "@ragtune/contracts/gateway";
import { GeneratorService } from "@ragtune/contracts/generator";
import { JudgeService } from "@ragtune/contracts/judge";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { TrainerService } from "@ragtune/contracts/trainer";
import {
  type BuiltService,
  createKvLease,
  createServiceClient,
  logUnhandledRejections,
  openKv,
  type ServiceContext,
} from "@ragtune/runtime";
import type { gatewaySettings } from "./config.js";
import { createKvAnswerJournal } from "./experiments/answer-journal.js";
import { createKvCellResultStore } from "./experiments/cell-results.js";
import { ExperimentRunner } from "./experiments/experiment-runner.js";
import { ExperimentServiceImpl } from "./experiments/experiment-service.js";
import { createKvExperimentStore } from "./experiments/experiment-store.js";
import { datasetAccessFrom } from "./experiments/dataset-access.js";
import { createObjectStoreManifestStore } from "./experiments/manifest-store.js";
import { createKvContextStore } from "./experiments/question-contexts.js";
import { TimeBreakdownRecorder, timedCellStore, timedExperimentStore } from "./telemetry/time-breakdown.js";

export const LEASES_BUCKET = "ragtune_experiment_leases";

export async function build(ctx: ServiceContext<typeof gatewaySettings>): Promise<BuiltService> {
  const { config } = ctx;
  const auth = { authToken: config.authToken };
  const datasetAccess = datasetAccessFrom(config);
  ctx.logger.info("datasets are read only under", { roots: datasetAccess.roots });
  const store = await createKvExperimentStore(ctx.nats);
  const cells = await createKvCellResultStore(ctx.nats);
  const journal = await createKvAnswerJournal(ctx.nats);
  const contexts = await createKvContextStore(ctx.nats);
  // Replicas share experiments: each run is leased, so one replica runs it and another adopts it if that one dies.
  const leases = await openKv(ctx.nats.kvm, LEASES_BUCKET, { history: 1 });
  const holder = `gateway@${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const trainer = createServiceClient(TrainerService, config.trainerUrl, auth);
  // Where each run's time goes (Experiment.time_breakdown and metrics), from the stages the runner announces.
  const timing = new TimeBreakdownRecorder({
    queueWait: async (jobId) => {
      const { job } = await trainer.getJob({ jobId });
      const at = (t?: { seconds: bigint; nanos: number }) => (t ? Number(t.seconds) + t.nanos / 1e9 : undefined);
      const created = at(job?.createTime);
      const started = at(job?.startTime);
      return created !== undefined && started !== undefined ? Math.max(0, started - created) : undefined;
    },
  });
  const runner = new ExperimentRunner({
    store: timedExperimentStore(store, timing),
    cells: timedCellStore(cells, timing),
    journal,
    clients: {
      retriever: createServiceClient(RetrieverService, config.retrieverUrl, auth),
      trainer,
      generator: createServiceClient(GeneratorService, config.generatorUrl, auth),
      judge: createServiceClient(JudgeService, config.judgeUrl, auth),
    },
    workDir: resolve(config.workDir),
    manifests: createObjectStoreManifestStore(ctx.nats.objm),
    contexts,
    datasetAccess,
    logger: ctx.logger,
    events: ctx.nats,
    leaseFor: (experimentId) => createKvLease(leases, experimentId, holder, config.leaseTtlMs),
    retry: {
      attempts: config.retryAttempts,
      baseBackoffMs: config.retryBaseMs,
      maxBackoffMs: config.retryMaxMs,
      totalMs: config.retryTotalMs,
      callTimeoutMs: config.callTimeoutMs,
      streamTimeoutMs: config.streamTimeoutMs,
    },
    maxAdoptions: config.maxAdoptions,
  });
  // A promise the runner forgot to await must not end the process and every run it holds.
  logUnhandledRejections(ctx.logger);
  const resumed = await runner.resumeInterrupted();
  if (resumed.length) ctx.logger.info("resumed interrupted experiments", { experiments: resumed });
  runner.adoptOrphanedRuns(config.leaseTtlMs);
  return {
    services: [{ service: ExperimentService, impl: new ExperimentServiceImpl(store, cells, runner, datasetAccess) }],
    onShutdown: () => runner.stopAll(),
  };
}
