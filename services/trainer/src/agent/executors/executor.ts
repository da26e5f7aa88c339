/** What an executor is given and what it gives back; the agent does the rest (reporting, upload, retries). */
import { FailureClass, type Job, type JobProgress } from "@ragtune/contracts/trainer";
import type { TrainingPair } from "../training-pairs.js";

export interface ExecutorContext {
  job: Job;
  pairs: TrainingPair[];
  /** sha256 of the manifest the pairs came from (verified). */
  trainingDataSha256: string;
  /** A fresh directory the executor may use; the adapter goes into `adapterDir` inside it. */
  workDir: string;
  adapterDir: string;
  /** GPU the job was placed on (CUDA_VISIBLE_DEVICES for subprocesses). */
  gpuIndex?: number;
  signal: AbortSignal;
  onProgress(progress: Partial<Omit<JobProgress, "$typeName">>): void;
}

export interface ExecutorResult {
  metrics: Record<string, number>;
}

export interface Executor {
  readonly name: string;
  /** Writes the adapter's files into ctx.adapterDir. Throws ExecutorFailure to say how it failed. */
  run(ctx: ExecutorContext): Promise<ExecutorResult>;
}

/** A failure whose class the executor knows (out of memory, bad input); anything else counts as transient. */
export class ExecutorFailure extends Error {
  constructor(
    readonly failureClass: FailureClass,
    message: string,
  ) {
    super(message);
    this.name = "ExecutorFailure";
  }
}

export const userError = (message: string) => new ExecutorFailure(FailureClass.USER_ERROR, message);

/**
 * The abort reason when the agent itself stops (the job is handed back, not cancelled): work that lives outside
 * the agent and can be found again by the next attempt (a hosted fine-tune) is left running.
 */
export class AgentStopping extends Error {
  constructor() {
    super("the agent is stopping");
    this.name = "AgentStopping";
  }
}

export const agentIsStopping = (signal: AbortSignal) => signal.reason instanceof AgentStopping;
