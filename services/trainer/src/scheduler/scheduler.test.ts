import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  FailureClass,
  JobState,
  NodeState,
  type ReportJobRequest,
  ReportJobRequestSchema,
} from "@ragtune/contracts/trainer";
import { cpuNode, createTestScheduler, gpuNode, peftSubmit, readerSubmit } from "../testing/fixtures.js";

async function rejects(promise: Promise<unknown>, code: Code, pattern: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.rawMessage, pattern);
    return true;
  });
}

function report(jobId: string, nodeId: string, attempt: number, body: ReportJobRequest["report"]) {
  return create(ReportJobRequestSchema, { jobId, nodeId, attempt, report: body });
}

describe("TrainerScheduler", () => {
  it("places a submitted job on the best-fitting GPU and hands it to that node's agent", async () => {
    const { scheduler, subjects } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.registerNode(gpuNode("big", [80]));
    await scheduler.registerNode(gpuNode("small", [24]));
    const { job, created } = await scheduler.submit(peftSubmit("qlora-7b"));
    assert.equal(created, true);
    assert.equal(job.effectiveBatchSize, 4);
    assert.equal(scheduler.getJob("qlora-7b").state, JobState.PLACED);
    assert.equal(scheduler.getJob("qlora-7b").nodeId, "small");
    assert.equal(await scheduler.acquire("big", 0), undefined);
    const acquired = await scheduler.acquire("small", 0);
    assert.equal(acquired?.attempt, 1);
    assert.equal(acquired?.state, JobState.RUNNING);
    assert.deepEqual(subjects().slice(-3), ["job.queued", "job.placed", "job.started"]);
    await scheduler.stop();
  });

  it("is idempotent by job id: same spec returns the job, another spec is ALREADY_EXISTS", async () => {
    const { scheduler } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.submit(peftSubmit("same"));
    const again = await scheduler.submit(peftSubmit("same"));
    assert.equal(again.created, false);
    await rejects(scheduler.submit(peftSubmit("same", { loraRank: 8 })), Code.AlreadyExists, /another spec/);
    await scheduler.stop();
  });

  it("refuses a job that fits no registered GPU, naming the estimate and the largest GPU", async () => {
    const { scheduler } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.registerNode(gpuNode("t4", [16]));
    await rejects(
      scheduler.submit(peftSubmit("too-big", { method: 1, microBatchSize: 8 })),
      Code.FailedPrecondition,
      /estimated \d+\.\d GiB .* largest registered GPU has 16\.0 GiB .* node t4/,
    );
    await scheduler.stop();
  });

  it("runs higher priority first", async () => {
    const { scheduler } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.submit(peftSubmit("low", {}, { priority: 0 }));
    await scheduler.submit(peftSubmit("high", {}, { priority: 5 }));
    await scheduler.registerNode(gpuNode("one", [40]));
    assert.equal(scheduler.getJob("high").state, JobState.PLACED);
    assert.equal(scheduler.getJob("low").state, JobState.QUEUED);
    await scheduler.stop();
  });

  it("marks a silent node lost, requeues its job elsewhere and ignores the old attempt's reports", async () => {
    const { scheduler, clock, subjects } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.registerNode(gpuNode("a", [24]));
    await scheduler.submit(peftSubmit("j"));
    const first = await scheduler.acquire("a", 0);
    assert.equal(first?.attempt, 1);
    await scheduler.registerNode(gpuNode("b", [24]));
    clock.ms += 2000;
    await scheduler.heartbeat("b", [], []);
    clock.ms += 1500; // a: 3.5 s silent, b: 1.5 s
    assert.deepEqual(await scheduler.checkLiveness(), ["a"]);
    assert.equal(scheduler.listNodes()[0].state, NodeState.LOST);
    const job = scheduler.getJob("j");
    assert.equal(job.state, JobState.PLACED);
    assert.equal(job.nodeId, "b");
    assert.equal(job.lostAttempts, 1);
    assert.ok(subjects().includes("node.lost"));
    const second = await scheduler.acquire("b", 0);
    assert.equal(second?.attempt, 2);
    // The lost node comes back and reports success for its old attempt: ignored, and told to stop.
    const stop = await scheduler.report(
      report("j", "a", 1, { case: "succeeded", value: { uri: "x", sha256: "y" } as never }),
    );
    assert.equal(stop, true);
    assert.equal(scheduler.getJob("j").state, JobState.RUNNING);
    assert.deepEqual(await scheduler.heartbeat("a", [], ["j"]), ["j"]);
    await scheduler.stop();
  });

  it("stops requeueing a job whose nodes keep getting lost: FAILED with the reason once the cap is passed", async () => {
    const { scheduler, clock, subjects } = createTestScheduler({
      retryPolicy: { baseBackoffMs: 1000, maxBackoffMs: 8000, maxLostAttempts: 1 },
    });
    await scheduler.start({ timers: false });
    await scheduler.registerNode(gpuNode("a", [24]));
    await scheduler.submit(peftSubmit("doomed"));
    for (const round of [1, 2]) {
      assert.equal((await scheduler.acquire("a", 0))?.attempt, round);
      clock.ms += 3500; // a silent for 3.5 heartbeat periods
      assert.deepEqual(await scheduler.checkLiveness(), ["a"]);
      await scheduler.registerNode(gpuNode("a", [24])); // the node comes back without the job
    }
    const job = scheduler.getJob("doomed");
    assert.equal(job.state, JobState.FAILED);
    assert.equal(job.lostAttempts, 2);
    assert.match(job.error, /node a stopped heartbeating \(node lost 2 times, more than the 1 allowed\)/);
    assert.equal(subjects().filter((s) => s === "job.failed").length, 2);
    await scheduler.stop();
  });

  it("publishes the adapter once when the current attempt succeeds, and acknowledges a repeated report", async () => {
    const { scheduler, subjects } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.registerNode(cpuNode("cpu"));
    await scheduler.submit(readerSubmit("reader"));
    const job = await scheduler.acquire("cpu", 0);
    assert.ok(job);
    const progress = report("reader", "cpu", 1, {
      case: "progress",
      value: { step: 1n, totalSteps: 2n, loss: 0.5 } as never,
    });
    assert.equal(await scheduler.report(progress), false);
    const success = report("reader", "cpu", 1, {
      case: "succeeded",
      value: { uri: "nats-obj://a/reader.tar", sha256: "ab", sizeBytes: 10n, metrics: { loss: 0.1 } } as never,
    });
    assert.equal(await scheduler.report(success), false);
    assert.equal(await scheduler.report(success), false);
    const done = scheduler.getJob("reader");
    assert.equal(done.state, JobState.SUCCEEDED);
    assert.equal(done.adapterId, "reader");
    const adapter = await scheduler.getAdapter("reader");
    assert.equal(adapter.uri, "nats-obj://a/reader.tar");
    assert.equal(adapter.metrics.loss, 0.1);
    assert.equal(subjects().filter((s) => s === "job.succeeded").length, 1);
    assert.equal(subjects().filter((s) => s === "adapter.published").length, 1);
    await rejects(scheduler.cancel("reader"), Code.FailedPrecondition, /already ended/);
    await scheduler.stop();
  });

  it("retries an out-of-memory job only on a larger GPU", async () => {
    const { scheduler } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.registerNode(gpuNode("small", [24]));
    await scheduler.submit(peftSubmit("oom"));
    await scheduler.acquire("small", 0);
    await scheduler.registerNode(gpuNode("big", [80]));
    await scheduler.report(
      report("oom", "small", 1, {
        case: "failed",
        value: { failureClass: FailureClass.OUT_OF_MEMORY, message: "CUDA out of memory" } as never,
      }),
    );
    const job = scheduler.getJob("oom");
    assert.equal(job.state, JobState.PLACED);
    assert.equal(job.nodeId, "big");
    assert.equal(job.failureClass, FailureClass.OUT_OF_MEMORY);
    await scheduler.stop();
  });

  it("fails a user error at once and backs off a transient one", async () => {
    const { scheduler, clock } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.registerNode(cpuNode("cpu"));
    await scheduler.submit(readerSubmit("user"));
    await scheduler.acquire("cpu", 0);
    const fail = (jobId: string, attempt: number, failureClass: FailureClass) =>
      scheduler.report(
        report(jobId, "cpu", attempt, { case: "failed", value: { failureClass, message: "m" } as never }),
      );
    await fail("user", 1, FailureClass.USER_ERROR);
    assert.equal(scheduler.getJob("user").state, JobState.FAILED);

    await scheduler.submit(readerSubmit("flaky"));
    await scheduler.acquire("cpu", 0);
    await fail("flaky", 1, FailureClass.TRANSIENT);
    assert.equal(scheduler.getJob("flaky").state, JobState.QUEUED);
    clock.ms += 1001;
    await scheduler.requestSchedule();
    assert.equal(scheduler.getJob("flaky").state, JobState.PLACED);
    await scheduler.stop();
  });

  it("cancels a queued job so it never starts, and tells the agent to stop a running one", async () => {
    const { scheduler } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.submit(readerSubmit("queued"));
    assert.equal((await scheduler.cancel("queued")).state, JobState.CANCELLED);
    await scheduler.registerNode(cpuNode("cpu"));
    assert.equal(await scheduler.acquire("cpu", 0), undefined);
    await scheduler.submit(readerSubmit("running"));
    await scheduler.acquire("cpu", 0);
    await scheduler.cancel("running");
    assert.deepEqual(await scheduler.heartbeat("cpu", [], ["running"]), ["running"]);
    const stop = await scheduler.report(
      report("running", "cpu", 1, { case: "progress", value: { step: 3n } as never }),
    );
    assert.equal(stop, true);
    await scheduler.stop();
  });

  it("keeps a cancelled job's GPU until its agent stops listing the job (its process exited)", async () => {
    const { scheduler } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.registerNode(gpuNode("g", [24]));
    await scheduler.submit(peftSubmit("first"));
    await scheduler.acquire("g", 0);
    await scheduler.heartbeat("g", [], ["first"]);
    await scheduler.cancel("first");
    await scheduler.submit(peftSubmit("next"));
    // The agent is still stopping the old run: the GPU is not handed on.
    assert.deepEqual(await scheduler.heartbeat("g", [], ["first"]), ["first"]);
    assert.equal(scheduler.getJob("next").state, JobState.QUEUED);
    // The agent no longer lists it: the process has exited, the GPU goes to the next job.
    await scheduler.heartbeat("g", [], []);
    assert.equal(scheduler.getJob("next").state, JobState.PLACED);
    assert.equal(scheduler.getJob("next").gpuIndex, 0);
    await scheduler.stop();
  });

  it("streams a job's changes until it ends, and wakes a waiting acquire", async () => {
    const { scheduler } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.registerNode(cpuNode("cpu"));
    const waiting = scheduler.acquire("cpu", 5000);
    await scheduler.submit(readerSubmit("w"));
    const acquired = await waiting;
    assert.equal(acquired?.jobId, "w");
    const seen: JobState[] = [];
    const watching = (async () => {
      for await (const job of scheduler.watchJob("w")) seen.push(job.state);
    })();
    await scheduler.report(report("w", "cpu", 1, { case: "succeeded", value: { uri: "u", sha256: "s" } as never }));
    await watching;
    assert.deepEqual(seen, [JobState.RUNNING, JobState.SUCCEEDED]);
    await scheduler.stop();
  });

  it("requeues a running job whose agent re-registers without it", async () => {
    const { scheduler } = createTestScheduler();
    await scheduler.start({ timers: false });
    await scheduler.registerNode(cpuNode("cpu"));
    await scheduler.submit(readerSubmit("r"));
    await scheduler.acquire("cpu", 0);
    await scheduler.registerNode(cpuNode("cpu"));
    const job = scheduler.getJob("r");
    assert.equal(job.state, JobState.PLACED);
    assert.equal(job.failureClass, FailureClass.NODE_LOST);
    assert.equal((await scheduler.acquire("cpu", 0))?.attempt, 2);
    await scheduler.stop();
  });
});
