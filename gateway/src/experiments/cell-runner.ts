/**
 * Runs one cell: fine-tune (unless base), answer every evaluation question, judge every answer. Answers go to
 * the judge in batches as they come, so a cell's generation and judging overlap, and every call waits only for
 * its own backend's slots (shared by the cells of the run), never for another cell.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { FineTuneMethod } from "@ragtune/contracts/common";
import type { AnswerRecord, ExperimentSpec } from "@ragtune/contracts/gateway";
import type { GeneratorService } from "@ragtune/contracts/generator";
import type { JudgeService, ScoreItemSchema, ScoreResponse } from "@ragtune/contracts/judge";
import { FailureClass, type Job, JobState, type TrainerService } from "@ragtune/contracts/trainer";
import { isAbstention, type QaItem } from "@ragtune/datasets";
import { type Logger, sleep } from "@ragtune/runtime";
import type { CellAnswerJournal, JournalledAnswer } from "./answer-journal.js";
import { answerRecord, JudgeSummaries } from "./answer-records.js";
import { BackendLimits } from "./backend-limits.js";
import { BatchContexts } from "./batch-contexts.js";
import { backoffMs, DEFAULT_RETRY_POLICY, isRetryable, type RetryPolicy } from "./call-retries.js";
import type { CellResult } from "./cell-results.js";
import { type Cell, generationKeyFor, jobIdFor } from "./cells.js";
import { type PreparedDataset, poolName, type RetrievedContext } from "./dataset-preparation.js";
import { backendConcurrency, DEFAULT_MAX_TOKENS } from "./experiment-spec.js";
import type { StageCounter } from "./stage-progress.js";

export interface CellClients {
  trainer: Client<typeof TrainerService>;
  generator: Client<typeof GeneratorService>;
  judge: Client<typeof JudgeService>;
}

export class CellFailedError extends Error {}

/** Answers per ScoreBatch call. */
const JUDGE_BATCH = 50;

/** Codes that say this cell's request itself is wrong (a model or adapter the backend refuses): retrying cannot help. */
const CELL_FAULTS = new Set([Code.InvalidArgument, Code.NotFound, Code.FailedPrecondition, Code.OutOfRange]);

export interface CellRunOptions {
  experimentId: string;
  cell: Cell;
  spec: ExperimentSpec;
  prepared: PreparedDataset;
  clients: CellClients;
  signal: AbortSignal;
  logger: Logger;
  onStage: (stage: string) => void;
  /** Slots per backend, shared by the run's cells; default: this cell's own, from the spec. */
  limits?: BackendLimits;
  progress?: StageCounter;
  /** Backoff of a job watch re-attached after the trainer went away. */
  retry?: RetryPolicy;
  /** Keeps each answer as the generator gives it, so a cell run again asks only what it has not been answered. */
  journal?: CellAnswerJournal;
  /** Where the cell's answer records are streamed as they are judged; without: returned in the result. */
  writeAnswers?: (records: AsyncIterable<AnswerRecord>) => Promise<void>;
}

/** A job id from the cell key: only the characters job ids allow, and a hash suffix when it must be shortened. */
function jobIdOf(experimentId: string, cell: Cell): string {
  return jobIdFor(experimentId, cell.key);
}

/** Follows a job to its end, re-attaching when the stream breaks (a trainer restarting) or ends early. */
async function watchToEnd(options: CellRunOptions, jobId: string): Promise<Job | undefined> {
  const policy = options.retry ?? DEFAULT_RETRY_POLICY;
  let job: Job | undefined;
  for (let retry = 0; ; retry++) {
    try {
      for await (const update of options.clients.trainer.watchJob({ jobId }, { signal: options.signal })) {
        job = update.job;
        retry = 0; // the trainer answers again: a later break starts the backoff afresh
      }
      if (job && [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED].includes(job.state)) return job;
      // Ended before the job did: the trainer shut its streams down cleanly for a restart.
    } catch (error) {
      if (options.signal.aborted || !isRetryable(error)) throw error;
    }
    if (retry + 1 >= policy.attempts) return job;
    const delayMs = backoffMs(policy, retry);
    options.logger.warn("re-attaching to a fine-tune job", { job: jobId, delayMs });
    await sleep(delayMs, options.signal);
  }
}

/**
 * The trainer's queue priority of a cell's fine-tune: the thousands of tokens it trains on (one pass over its pool
 * × epochs), so the longest jobs start first (longest-processing-time order) and the last GPU to free up does not
 * hold a big job that started late while the others idle. Tokens, not examples: a Qasper example (a paper's long
 * chunks) takes several times a BioASQ one's time. Among equal sizes QLoRA goes first: dequantising the 4-bit base
 * makes it the slower.
 */
export function trainingPriority(passTokens: number, epochs: number, method: FineTuneMethod): number {
  const kiloTokens = Math.round((passTokens * Math.max(1, epochs)) / 1000);
  return Math.min(2 ** 31 - 1, kiloTokens * 2 + (method === FineTuneMethod.QLORA ? 1 : 0));
}

async function fineTune(options: CellRunOptions): Promise<{ adapterId: string; trainedOn: number; executor: string }> {
  const { cell, spec, prepared, clients, signal } = options;
  const pool = poolName(cell.size);
  const trainedOn = prepared.poolSizes[pool] ?? 0;
  if (trainedOn === 0) throw new CellFailedError(`${prepared.name} has no questions left for pool ${pool}`);
  const h = cell.hyperparameters!;
  const jobId = jobIdOf(options.experimentId, cell);
  await clients.trainer.submitJob(
    {
      jobId,
      priority: trainingPriority(prepared.poolTokens[pool] ?? 0, h.epochs, cell.method),
      spec: {
        baseModel: cell.model.baseModel,
        trainingData: {
          manifestUri: prepared.manifestUri,
          pool,
          manifestSha256: prepared.manifestSha256,
          size: trainedOn,
        },
        method: cell.method,
        epochs: h.epochs,
        microBatchSize: h.microBatchSize,
        gradientAccumulationSteps: h.gradientAccumulationSteps,
        learningRate: h.learningRate,
        loraRank: h.loraRank,
        loraAlpha: h.loraAlpha,
        loraDropout: h.loraDropout,
        targetModules: h.targetModules,
        seed: spec.seed,
      },
    },
    { signal },
  );
  options.onStage(`fine-tune ${cell.key} (job ${jobId})`);
  const job = await watchToEnd(options, jobId);
  options.progress?.add("train", 1);
  if (job?.state === JobState.SUCCEEDED)
    return { adapterId: job.adapterId, trainedOn, executor: job.spec?.executor ?? "" };
  if (job && (job.state === JobState.FAILED || job.state === JobState.CANCELLED)) {
    throw new CellFailedError(
      `fine-tune job ${jobId} ${JobState[job.state]}${job.failureClass ? ` (${FailureClass[job.failureClass]})` : ""}: ${job.error}`,
    );
  }
  // The trainer kept going away: not the cell's fault, so the run stops (resumable) rather than fail the cell.
  throw new Error(`fine-tune job ${jobId}: the trainer did not report the job's end; resume the run to re-attach`);
}

/** Sampling and prompt settings of the spec, with the defaults of a spec stored before it had them. */
function generationSettings(spec: ExperimentSpec) {
  const sampling = spec.generation?.sampling;
  return {
    sampling: {
      temperature: sampling?.temperature ?? 0,
      topP: sampling?.topP ?? 0,
      maxTokens: sampling?.maxTokens || DEFAULT_MAX_TOKENS,
      seed: sampling?.seed || spec.seed,
      stop: sampling?.stop ?? [],
    },
    templateId: spec.generation?.templateId ?? "",
    truncation: spec.generation?.truncation ?? 0,
  };
}

function scoreItem(
  item: QaItem,
  answer: string,
  contexts: readonly RetrievedContext[],
): MessageInitShape<typeof ScoreItemSchema> {
  return {
    itemId: item.id,
    question: item.question,
    answer,
    contexts: contexts.map((c) => c.text),
    referenceAnswer: item.answer,
    // Every acceptable answer (NQ-open's list, Qasper's annotators): the judge takes the best match over them.
    referenceAnswers: item.answers,
    referenceEvidence: item.evidence,
  };
}

/** A refusal of this cell's own request becomes a cell failure; anything else stops the run (resumable). */
function asCellFailure(what: string, error: unknown): unknown {
  const e = ConnectError.from(error);
  return CELL_FAULTS.has(e.code) ? new CellFailedError(`${what}: ${e.message}`) : error;
}

export async function runCell(options: CellRunOptions): Promise<CellResult> {
  const { cell, spec, prepared, clients, signal } = options;
  const limits = options.limits ?? new BackendLimits(spec);
  const tuned = cell.size > 0 ? await fineTune(options) : { adapterId: "", trainedOn: 0, executor: "" };

  options.onStage(`generate and judge ${cell.key}`);
  const settings = generationSettings(spec);
  const items = prepared.evalItems;
  // An answer is kept only until its batch is judged and its record written.
  const answers = new Map<string, string>();
  let latency = 0;
  let outputTokens = 0;
  const generateLimit = limits.for("generate", cell.model.backend);
  const judgeBackend = spec.judge?.model?.backend ?? "";
  const judgeLimit = limits.for("judge", judgeBackend);
  const { judgeRequestsPerCall } = backendConcurrency(spec, judgeBackend);
  const batchCount = Math.ceil(items.length / JUDGE_BATCH);
  const batchOf = (batch: number) => items.slice(batch * JUDGE_BATCH, (batch + 1) * JUDGE_BATCH);
  // Questions' chunks are read a batch at a time and let go once its records are written, never held for the cell.
  const contexts = new BatchContexts(prepared.contexts, batchOf, signal);
  const judged = Array.from({ length: batchCount }, () => deferred<ScoreResponse[]>());
  const answeredInBatch = new Map<number, number>();

  // Records and sums are made batch by batch in item order, so they come out the same however calls interleave.
  const scores: CellResult["scores"] = {};
  const failedRepeats: Record<string, number> = {};
  const summaries = new JudgeSummaries();
  // Generation runs at most a few batches ahead of the writer, so a slow store holds back answering instead of
  // letting answers and judgements pile up in memory.
  let batchesWritten = 0;
  let writerDone = false;
  const writerWaiters: (() => void)[] = [];
  const wakeGenerators = () => {
    for (const wake of writerWaiters.splice(0)) wake();
  };
  const batchesAhead = () => judgeLimit.limit + Math.ceil(generateLimit.limit / JUDGE_BATCH) + 2;
  const writerReached = async (index: number) => {
    while (!writerDone && Math.floor(index / JUDGE_BATCH) - batchesWritten >= batchesAhead()) {
      await new Promise<void>((wake) => writerWaiters.push(wake));
    }
  };
  async function* records(): AsyncGenerator<AnswerRecord> {
    for (let batch = 0; batch < batchCount; batch++) {
      const results = await judged[batch].promise;
      judged[batch] = CONSUMED; // a settled promise keeps its value: let the batch's judgements go once written
      summaries.add(results);
      for (const result of results) {
        for (const score of result.scores) {
          failedRepeats[score.criterion] = (failedRepeats[score.criterion] ?? 0) + score.failedRepeats;
          if (!score.spread || score.spread.n === 0) continue; // every repeat failed: no score, counted above
          scores[result.itemId] ??= {};
          scores[result.itemId][score.criterion] = score.spread.mean;
        }
      }
      const byItem = new Map(results.map((r) => [r.itemId, r]));
      const chunks = await contexts.of(batch);
      for (const item of batchOf(batch)) {
        const answer = answers.get(item.id) ?? "";
        answers.delete(item.id);
        yield answerRecord({
          cell,
          prepared,
          adapterId: tuned.adapterId,
          item,
          answer,
          contexts: chunks.get(item.id) ?? [],
          judged: byItem.get(item.id),
        });
      }
      contexts.release(batch);
      batchesWritten = batch + 1;
      wakeGenerators();
    }
  }
  const kept: AnswerRecord[] = [];
  const writing = (
    options.writeAnswers ??
    (async (all: AsyncIterable<AnswerRecord>) => {
      for await (const record of all) kept.push(record);
    })
  )(records());
  writing
    .catch(() => {}) // awaited below, once every call is over
    .finally(() => {
      writerDone = true;
      wakeGenerators();
    });

  let judgeFailure: unknown;
  const judgeBatch = (batch: number) => {
    contexts
      .of(batch)
      .then(async (chunks) => {
        const request = {
          items: batchOf(batch).map((item) => scoreItem(item, answers.get(item.id) ?? "", chunks.get(item.id) ?? [])),
          criteria: spec.criteria,
          judge: spec.judge,
          concurrency: judgeRequestsPerCall,
        };
        const res = await judgeLimit.run(() => clients.judge.scoreBatch(request, { signal }));
        options.progress?.add("judge", request.items.length);
        return res.results;
      })
      .then(
        (results) => judged[batch].resolve(results),
        (error) => {
          judgeFailure ??= asCellFailure(`judging ${cell.key}`, error);
          judged[batch].reject(judgeFailure);
        },
      );
  };

  // Workers take questions in order; a batch goes to the judge as soon as its last answer is in.
  let next = 0;
  const askGenerator = async (item: QaItem, index: number): Promise<JournalledAnswer> => {
    const chunks = await contexts.of(Math.floor(index / JUDGE_BATCH));
    const res = await generateLimit
      .run(() =>
        clients.generator.generate(
          {
            question: item.question,
            contexts: [...(chunks.get(item.id) ?? [])],
            model: { baseModel: cell.model.baseModel, backend: cell.model.backend, adapter: tuned.adapterId },
            ...settings,
            idempotencyKey: generationKeyFor(options.experimentId, cell.key, item.id),
          },
          { signal },
        ),
      )
      .catch((error) => {
        throw asCellFailure(`generating ${cell.key}`, error);
      });
    const answer = {
      answer: res.answer,
      latencySeconds: res.latencySeconds,
      outputTokens: res.usage?.outputTokens ?? 0,
    };
    await options.journal?.put(item.id, answer);
    return answer;
  };
  const generateOne = async (index: number) => {
    const item = items[index];
    // An answer given before this cell was interrupted is taken as it was, not asked for again.
    const res = (await options.journal?.get(item.id)) ?? (await askGenerator(item, index));
    // Qasper's reference for a question its paper does not answer is "Unanswerable": a model saying so in
    // other words gave that answer.
    const abstained = prepared.abstentionAnswer && isAbstention(res.answer);
    answers.set(item.id, abstained ? prepared.abstentionAnswer! : res.answer);
    latency += res.latencySeconds;
    outputTokens += res.outputTokens;
    options.progress?.add("generate", 1);
    const batch = Math.floor(index / JUDGE_BATCH);
    const answered = (answeredInBatch.get(batch) ?? 0) + 1;
    answeredInBatch.set(batch, answered);
    if (answered === batchOf(batch).length) judgeBatch(batch);
  };
  // Enough workers to fill the backend's slots even when the adaptive limit grows; the limit does the pacing.
  const workers = Math.min(items.length, Math.max(generateLimit.limit * 2, 16));
  const generated = await Promise.allSettled(
    Array.from({ length: workers }, async () => {
      for (let index = next++; index < items.length && !judgeFailure; index = next++) {
        await writerReached(index);
        await generateOne(index);
      }
    }),
  );
  const generationFailed = generated.find((g) => g.status === "rejected");
  const stopped = generationFailed ? generationFailed.reason : judgeFailure;
  if (stopped !== undefined) {
    // Batches that will never be sent end the record stream with the failure instead of leaving it waiting.
    for (let batch = 0; batch < batchCount; batch++) {
      if ((answeredInBatch.get(batch) ?? 0) < batchOf(batch).length) judged[batch].reject(stopped);
    }
  }
  // The records are written once every batch was judged (or one failed), so judge calls already sent settle
  // before this cell ends, even when generation failed.
  const [written] = await Promise.allSettled([writing]);
  if (generationFailed) throw generationFailed.reason;
  if (written.status === "rejected") throw written.reason;

  return {
    cellKey: cell.key,
    dataset: prepared.name,
    baseModel: cell.model.baseModel,
    modelIndex: cell.modelIndex,
    method: cell.method,
    size: cell.size,
    trainedOn: tuned.trainedOn,
    hyperparametersIndex: cell.hyperparametersIndex,
    adapterId: tuned.adapterId,
    executor: tuned.executor,
    scores,
    failedRepeats,
    generationLatencySeconds: items.length ? latency / items.length : 0,
    outputTokens,
    finishTime: new Date().toISOString(),
    manifestSha256: prepared.manifestSha256,
    judge: summaries.summary(),
    ...(options.writeAnswers ? {} : { answers: kept }),
  };
}

/** A batch whose judgements were written. */
const CONSUMED = deferred<ScoreResponse[]>();
CONSUMED.resolve([]);

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a rejection is read where the cell settles its calls
  return { promise, resolve, reject };
}
