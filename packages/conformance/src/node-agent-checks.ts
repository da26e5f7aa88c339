/**
 * The node-agent protocol of TrainerService (RegisterNode, Heartbeat, AcquireJob, ReportJob), checked from the
 * agent's side against a trainer. Unlike the other kits it has a side effect: it registers test nodes
 * ("conformance-…", executor "openai", no GPUs) that the trainer then sees as lost after three heartbeat periods.
 * A test node could be given a queued hosted-fine-tune job in the meantime, so run it against a test trainer.
 */
import type { Message, MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { NodeRegisteredSchema } from "@ragtune/contracts/events";
import {
  NodeState,
  type RegisterNodeRequestSchema,
  type ReportJobRequestSchema,
  TrainerService,
} from "@ragtune/contracts/trainer";
import type { Check, CheckContext, Contract } from "./check.js";
import { type BadInput, invalidArgumentChecks } from "./bad-input.js";
import { commonChecks } from "./common-checks.js";
import { expectEvent } from "./events.js";
import { ensure, expectCode, expectInvalidArgument } from "./expect.js";

const trainer = (ctx: CheckContext) => ctx.client(TrainerService);
const testNode = (nodeId: string) => ({ nodeId, hostname: "conformance-kit", executors: ["openai"], gpus: [] });

async function registered(ctx: CheckContext): Promise<string> {
  const nodeId = ctx.unique("conformance");
  await trainer(ctx).registerNode({ node: testNode(nodeId) });
  return nodeId;
}

const invalidRegister: BadInput<RegisterInit>[] = [
  ["node is required", "node", {}],
  ["node.node_id 1..128 of [A-Za-z0-9._-]", "node.node_id", { node: testNode("bad id!") }],
  ["node.executors lists known executors", "node.executors", { node: { ...testNode("conformance-x"), executors: [] } }],
];

type RegisterInit = Exclude<MessageInitShape<typeof RegisterNodeRequestSchema>, Message>;
type ReportInit = Exclude<MessageInitShape<typeof ReportJobRequestSchema>, Message>["report"];

/** A report from a freshly registered test node about a job it never acquired. */
async function reportFromTestNode(ctx: CheckContext, report: ReportInit) {
  const nodeId = await registered(ctx);
  return trainer(ctx).reportJob({ nodeId, jobId: ctx.unique("job"), attempt: 1, report });
}

const invalidReport: BadInput<ReportInit>[] = [
  ["no report is carried", "report", undefined],
  ["a success names no adapter", "succeeded.uri", { case: "succeeded", value: { uri: "" } }],
];

const checks: Check[] = [
  ...commonChecks(TrainerService),
  ...invalidArgumentChecks("RegisterNode", invalidRegister, (ctx, request) => trainer(ctx).registerNode(request)),
  {
    name: "RegisterNode: idempotent by node_id, READY, with a heartbeat period",
    async run(ctx) {
      const nodeId = ctx.unique("conformance");
      const first = await trainer(ctx).registerNode({ node: testNode(nodeId) });
      const again = await trainer(ctx).registerNode({ node: testNode(nodeId) });
      ensure(first.heartbeatIntervalSeconds > 0, `heartbeat_interval_seconds ${first.heartbeatIntervalSeconds}`);
      ensure(again.node?.nodeId === nodeId, `registered as "${again.node?.nodeId}"`);
      const { nodes } = await trainer(ctx).listNodes({});
      const listed = nodes.filter((n) => n.nodeId === nodeId);
      ensure(listed.length === 1, `listed ${listed.length} times after two registrations`);
      ensure(listed[0].state === NodeState.READY, `state ${NodeState[listed[0].state]}`);
    },
  },
  {
    name: "ListNodes: ordered by node_id",
    async run(ctx) {
      await registered(ctx);
      const ids = (await trainer(ctx).listNodes({})).nodes.map((n) => n.nodeId);
      ensure(
        ids.every((id, i) => i === 0 || ids[i - 1] <= id),
        `not ordered: [${ids.join(", ")}]`,
      );
    },
  },
  {
    name: "Heartbeat: a registered node's heartbeat is accepted",
    async run(ctx) {
      const nodeId = await registered(ctx);
      const res = await trainer(ctx).heartbeat({ nodeId });
      ensure(res.cancelJobIds.length === 0, `asked to cancel [${res.cancelJobIds}] it never ran`);
    },
  },
  {
    name: "Heartbeat: NOT_FOUND for an unregistered node",
    run: (ctx) => expectCode(trainer(ctx).heartbeat({ nodeId: ctx.unique("missing") }), Code.NotFound),
  },
  {
    name: "AcquireJob: NOT_FOUND for an unregistered node",
    run: (ctx) => expectCode(trainer(ctx).acquireJob({ nodeId: ctx.unique("missing"), waitSeconds: 1 }), Code.NotFound),
  },
  {
    name: "AcquireJob: INVALID_ARGUMENT wait_seconds (at most 60)",
    run: (ctx) =>
      registered(ctx).then((nodeId) =>
        expectInvalidArgument(trainer(ctx).acquireJob({ nodeId, waitSeconds: 61 }), "wait_seconds"),
      ),
  },
  {
    name: "AcquireJob: long-polls wait_seconds, then answers with no job",
    run: (ctx) =>
      registered(ctx).then(async (nodeId) => {
        const started = performance.now();
        const res = await trainer(ctx).acquireJob({ nodeId, waitSeconds: 1 });
        const waited = (performance.now() - started) / 1000;
        ensure(!res.job, `a job (${res.job?.jobId}) was placed on the kit's test node`);
        ensure(waited >= 0.9 && waited < 6, `answered after ${waited.toFixed(2)} s for wait_seconds 1`);
      }),
  },
  ...invalidArgumentChecks("ReportJob", invalidReport, reportFromTestNode),
  {
    name: "ReportJob: NOT_FOUND for an unknown job",
    run: (ctx) =>
      expectCode(reportFromTestNode(ctx, { case: "failed", value: { message: "conformance kit" } }), Code.NotFound),
  },
  {
    name: "events: RegisterNode announces ragtune.trainer.node.registered with the node",
    async run(ctx) {
      const nodeId = ctx.unique("conformance");
      await expectEvent(
        ctx,
        "ragtune.trainer.node.registered",
        NodeRegisteredSchema,
        () => trainer(ctx).registerNode({ node: testNode(nodeId) }),
        (event) => event.node?.nodeId === nodeId,
      );
    },
  },
];

export const nodeAgentContract: Contract = {
  name: "node-agent",
  service: TrainerService,
  probe: (ctx) => trainer(ctx).listNodes({}, { timeoutMs: 5000 }),
  checks,
};
