/**
 * TrainerService's promises (proto/ragtune/trainer/v1/trainer.proto) that can be checked without side effects
 * on a live scheduler: the kit registers no node and submits no valid job, since a fake node could be given
 * real work.
 */
import { Code } from "@connectrpc/connect";
import { TrainerService } from "@ragtune/contracts/trainer";
import type { Check, CheckContext, Contract } from "./check.js";
import { commonChecks } from "./common-checks.js";
import { ensure, expectCode, expectInvalidArgument } from "./expect.js";

const trainer = (ctx: CheckContext) => ctx.client(TrainerService);

async function firstWatchMessage(ctx: CheckContext, jobId: string): Promise<void> {
  for await (const _ of trainer(ctx).watchJob({ jobId }, { timeoutMs: 5000 })) return;
}

const checks: Check[] = [
  ...commonChecks(TrainerService),
  {
    name: "GetJob: NOT_FOUND for an unknown job",
    run: (ctx) => expectCode(trainer(ctx).getJob({ jobId: ctx.unique("missing") }), Code.NotFound),
  },
  {
    name: "WatchJob: NOT_FOUND for an unknown job",
    run: (ctx) => expectCode(firstWatchMessage(ctx, ctx.unique("missing")), Code.NotFound),
  },
  {
    name: "CancelJob: NOT_FOUND for an unknown job",
    run: (ctx) => expectCode(trainer(ctx).cancelJob({ jobId: ctx.unique("missing") }), Code.NotFound),
  },
  {
    name: "GetAdapter: NOT_FOUND for an unknown adapter",
    run: (ctx) => expectCode(trainer(ctx).getAdapter({ adapterId: ctx.unique("missing") }), Code.NotFound),
  },
  {
    name: "Heartbeat: NOT_FOUND for an unregistered node (the agent then registers again)",
    run: (ctx) => expectCode(trainer(ctx).heartbeat({ nodeId: ctx.unique("missing") }), Code.NotFound),
  },
  {
    name: "GetJob: INVALID_ARGUMENT job_id when empty",
    run: (ctx) => expectInvalidArgument(trainer(ctx).getJob({ jobId: "" }), "job_id"),
  },
  {
    name: "GetAdapter: INVALID_ARGUMENT adapter_id when empty",
    run: (ctx) => expectInvalidArgument(trainer(ctx).getAdapter({ adapterId: "" }), "adapter_id"),
  },
  {
    name: "SubmitJob: INVALID_ARGUMENT job_id (1..128 of [A-Za-z0-9._-])",
    run: (ctx) => expectInvalidArgument(trainer(ctx).submitJob({ jobId: "bad id!" }), "job_id"),
  },
  {
    name: "ListJobs: newest first",
    async run(ctx) {
      const { jobs } = await trainer(ctx).listJobs({});
      const times = jobs.map((j) => Number(j.createTime?.seconds ?? 0n));
      ensure(
        times.every((t, i) => i === 0 || times[i - 1] >= t),
        `create times not descending: [${times.join(", ")}]`,
      );
    },
  },
];

export const trainerContract: Contract = {
  name: "trainer",
  service: TrainerService,
  probe: (ctx) => trainer(ctx).listNodes({}, { timeoutMs: 5000 }),
  checks,
};
