import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { FailureClass, type Job, JobSchema, JobState } from "@ragtune/contracts/trainer";
import { GIB } from "../testing/fixtures.js";
import { cancelJob, failAttempt, isStaleReport, placeJob, startAttempt, succeedJob } from "./job-lifecycle.js";

const policy = { baseBackoffMs: 1000, maxBackoffMs: 4000 };
const context = { gpuMemoryBytes: 24 * GIB, largestGpuMemoryBytes: 80 * GIB };

function running(maxAttempts = 3): Job {
  const job = create(JobSchema, { jobId: "j", state: JobState.QUEUED, maxAttempts });
  placeJob(job, { nodeId: "n1", gpuIndex: 0 });
  startAttempt(job, 0);
  return job;
}

describe("job lifecycle", () => {
  it("counts an attempt when the agent starts it and ignores reports of other attempts or nodes", () => {
    const job = running();
    assert.equal(job.attempt, 1);
    assert.equal(job.state, JobState.RUNNING);
    assert.equal(isStaleReport(job, "n1", 1), false);
    assert.equal(isStaleReport(job, "n1", 0), true);
    assert.equal(isStaleReport(job, "n2", 1), true);
  });

  it("fails a user error at once", () => {
    const job = running();
    assert.deepEqual(failAttempt(job, { failureClass: FailureClass.USER_ERROR, message: "bad" }, context, 0, policy), {
      changed: true,
      final: true,
    });
    assert.equal(job.state, JobState.FAILED);
  });

  it("requeues a lost node's job without using up its attempts", () => {
    const job = running(1);
    const outcome = failAttempt(job, { failureClass: FailureClass.NODE_LOST, message: "lost" }, context, 0, policy);
    assert.equal(outcome.final, false);
    assert.equal(job.state, JobState.QUEUED);
    assert.equal(job.lostAttempts, 1);
    assert.equal(job.gpuIndex, undefined);
  });

  it("fails a job whose node was lost more often than maxLostAttempts allows, saying why", () => {
    const job = running(3);
    const lost = { failureClass: FailureClass.NODE_LOST, message: "node n1 stopped heartbeating" };
    const capped = { ...policy, maxLostAttempts: 2 };
    for (let i = 1; i <= 2; i++) {
      assert.equal(failAttempt(job, lost, context, 0, capped).final, false);
      assert.equal(job.state, JobState.QUEUED);
      placeJob(job, { nodeId: "n1", gpuIndex: 0 });
      startAttempt(job, 0);
    }
    assert.deepEqual(failAttempt(job, lost, context, 5, capped), { changed: true, final: true });
    assert.equal(job.state, JobState.FAILED);
    assert.equal(job.lostAttempts, 3);
    assert.equal(job.failureClass, FailureClass.NODE_LOST);
    assert.match(job.error, /node n1 stopped heartbeating \(node lost 3 times, more than the 2 allowed\)/);
  });

  it("retries transient failures with doubling backoff up to max_attempts", () => {
    const job = running(3);
    failAttempt(job, { failureClass: FailureClass.TRANSIENT, message: "x" }, context, 10_000, policy);
    assert.equal(job.state, JobState.QUEUED);
    assert.equal(timestampMs(job.retryTime!), 11_000);
    placeJob(job, { nodeId: "n1", gpuIndex: 0 });
    startAttempt(job, 20_000);
    failAttempt(job, { failureClass: FailureClass.TRANSIENT, message: "x" }, context, 20_000, policy);
    assert.equal(timestampMs(job.retryTime!), 22_000);
    placeJob(job, { nodeId: "n1", gpuIndex: 0 });
    startAttempt(job, 30_000);
    const last = failAttempt(job, { failureClass: FailureClass.TRANSIENT, message: "x" }, context, 30_000, policy);
    assert.equal(last.final, true);
    assert.match(job.error, /attempt 3 of 3/);
  });

  it("retries out-of-memory only on a larger GPU, and fails when none is registered", () => {
    const job = running();
    failAttempt(job, { failureClass: FailureClass.OUT_OF_MEMORY, message: "CUDA OOM" }, context, 0, policy);
    assert.equal(job.state, JobState.QUEUED);
    assert.equal(job.minGpuMemoryBytes, BigInt(24 * GIB));
    const stuck = running();
    const outcome = failAttempt(
      stuck,
      { failureClass: FailureClass.OUT_OF_MEMORY, message: "CUDA OOM" },
      { gpuMemoryBytes: 80 * GIB, largestGpuMemoryBytes: 80 * GIB },
      0,
      policy,
    );
    assert.equal(outcome.final, true);
    assert.match(stuck.error, /no registered GPU is larger/);
  });

  it("does not cancel or succeed a finished job", () => {
    const job = running();
    assert.equal(succeedJob(job, "a", 5), true);
    assert.equal(cancelJob(job, 6), false);
    assert.equal(succeedJob(job, "b", 7), false);
    assert.equal(job.adapterId, "a");
  });
});
