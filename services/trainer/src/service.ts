/**
 * TrainerServiceImpl: the gRPC face of the scheduler. Validation lives in validation.ts; this class maps
 * requests to scheduler calls and shapes responses.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  AcquireJobResponseSchema,
  CancelJobResponseSchema,
  GetAdapterResponseSchema,
  GetJobResponseSchema,
  HeartbeatResponseSchema,
  ListAdaptersResponseSchema,
  ListJobsResponseSchema,
  ListNodesResponseSchema,
  RegisterNodeResponseSchema,
  ReportJobResponseSchema,
  SubmitJobResponseSchema,
  type TrainerService,
  WatchJobResponseSchema,
} from "@ragtune/contracts/trainer";
import { invalidArgument, requireNodeCaller } from "@ragtune/runtime";
import type { TrainerScheduler } from "./scheduler/scheduler.js";
import { checkId, validateAcquire, validateListJobs, validateRegister, validateReportJob } from "./validation.js";

const DEFAULT_ACQUIRE_WAIT_SECONDS = 20;

function requireId(field: string, value: string) {
  const reason = checkId(value);
  if (reason) throw invalidArgument(field, reason);
}

export class TrainerServiceImpl implements ServiceImpl<typeof TrainerService> {
  constructor(private readonly scheduler: TrainerScheduler) {}

  async registerNode(
    request: Parameters<ServiceImpl<typeof TrainerService>["registerNode"]>[0],
    context: HandlerContext,
  ) {
    validateRegister(request);
    requireNodeCaller(context, request.node!.nodeId);
    const node = await this.scheduler.registerNode(request.node!);
    return create(RegisterNodeResponseSchema, {
      node,
      heartbeatIntervalSeconds: this.scheduler.heartbeatIntervalMs / 1000,
    });
  }

  async heartbeat(request: Parameters<ServiceImpl<typeof TrainerService>["heartbeat"]>[0], context: HandlerContext) {
    requireId("node_id", request.nodeId);
    requireNodeCaller(context, request.nodeId);
    const running = [...request.runningJobIds, request.runningJobId].filter(Boolean);
    const cancelJobIds = await this.scheduler.heartbeat(request.nodeId, request.gpus, running);
    return create(HeartbeatResponseSchema, { cancelJobIds });
  }

  async listNodes() {
    return create(ListNodesResponseSchema, { nodes: this.scheduler.listNodes() });
  }

  async submitJob(request: Parameters<ServiceImpl<typeof TrainerService>["submitJob"]>[0]) {
    const { job, created } = await this.scheduler.submit(request);
    return create(SubmitJobResponseSchema, { job, created });
  }

  async getJob(request: Parameters<ServiceImpl<typeof TrainerService>["getJob"]>[0]) {
    requireId("job_id", request.jobId);
    return create(GetJobResponseSchema, { job: this.scheduler.getJob(request.jobId) });
  }

  async listJobs(request: Parameters<ServiceImpl<typeof TrainerService>["listJobs"]>[0]) {
    validateListJobs(request);
    const page = this.scheduler.listJobs(request.states, request.pageSize, request.pageToken);
    return create(ListJobsResponseSchema, page);
  }

  async cancelJob(request: Parameters<ServiceImpl<typeof TrainerService>["cancelJob"]>[0]) {
    requireId("job_id", request.jobId);
    return create(CancelJobResponseSchema, { job: await this.scheduler.cancel(request.jobId) });
  }

  async *watchJob(request: Parameters<ServiceImpl<typeof TrainerService>["watchJob"]>[0], context: HandlerContext) {
    requireId("job_id", request.jobId);
    for await (const job of this.scheduler.watchJob(request.jobId, context.signal)) {
      yield create(WatchJobResponseSchema, { job });
    }
  }

  async acquireJob(request: Parameters<ServiceImpl<typeof TrainerService>["acquireJob"]>[0], context: HandlerContext) {
    validateAcquire(request);
    requireNodeCaller(context, request.nodeId);
    const waitSeconds = request.waitSeconds || DEFAULT_ACQUIRE_WAIT_SECONDS;
    const job = await this.scheduler.acquire(request.nodeId, waitSeconds * 1000, context.signal);
    return create(AcquireJobResponseSchema, { job, trainingDataUri: job?.spec?.trainingData?.manifestUri ?? "" });
  }

  async reportJob(request: Parameters<ServiceImpl<typeof TrainerService>["reportJob"]>[0], context: HandlerContext) {
    requireId("node_id", request.nodeId);
    requireNodeCaller(context, request.nodeId);
    requireId("job_id", request.jobId);
    validateReportJob(request);
    return create(ReportJobResponseSchema, { cancel: await this.scheduler.report(request) });
  }

  async listAdapters(request: Parameters<ServiceImpl<typeof TrainerService>["listAdapters"]>[0]) {
    return create(ListAdaptersResponseSchema, { adapters: await this.scheduler.listAdapters(request.baseModel) });
  }

  async getAdapter(request: Parameters<ServiceImpl<typeof TrainerService>["getAdapter"]>[0]) {
    requireId("adapter_id", request.adapterId);
    return create(GetAdapterResponseSchema, { adapter: await this.scheduler.getAdapter(request.adapterId) });
  }
}
