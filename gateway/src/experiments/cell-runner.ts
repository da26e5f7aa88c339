/** Runs one cell: fine-tune (unless base), answer every evaluation question, judge every answer. */
import type { Client } from "@connectrpc/connect";
import type { ExperimentSpec } from "@ragtune/contracts/gateway";
import type { GeneratorService } from "@ragtune/contracts/generator";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { JudgeService, ScoreItemSchema, ScoreResponse } from "@ragtune/contracts/judge";
import { FailureClass, type Job, JobState, type TrainerService } from "@ragtune/contracts/trainer";
import type { Logger } from "@ragtune/runtime";
import { isAbstention } from "@ragtune/datasets";
import { judgedRecords } from "./answer-records.js";
import type { CellResult } from "./cell-results.js";
import type { Cell } from "./cells.js";
import { poolName, type PreparedDataset } from "./dataset-preparation.js";

export interface CellClients {
  trainer: Client<typeof TrainerService>;
  generator: Client<typeof GeneratorService>;
  judge: Client<typeof JudgeService>;
}

export class CellFailedError extends Error {}

const JUDGE_BATCH = 50;
const GENERATE_CONCURRENCY = 8;

async function fineTune(
  experimentId: string,
  cell: Cell,
  spec: ExperimentSpec,
  prepared: PreparedDataset,
  clients: CellClients,
  signal: AbortSignal,
  onStage: (stage: string) => void,
): Promise<{ adapterId: string; trainedOn: number; executor: string }> {
  const pool = poolName(cell.size);
  const trainedOn = prepared.poolSizes[pool] ?? 0;
  if (trainedOn === 0) throw new CellFailedError(`${prepared.name} has no questions left for pool ${pool}`);
  const h = cell.hyperparameters!;
  const jobId = `${experimentId}.${cell.key}`.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 128);
  await clients.trainer.submitJob(
    {
      jobId,
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
  onStage(`fine-tune ${cell.key} (job ${jobId})`);
  // The stream ends by itself once the job ends; reading it to the end closes the call (and its span) cleanly.
  let job: Job | undefined;
  for await (const update of clients.trainer.watchJob({ jobId }, { signal })) job = update.job;
  if (job?.state === JobState.SUCCEEDED)
    return { adapterId: job.adapterId, trainedOn, executor: job.spec?.executor ?? "" };
  if (job && (job.state === JobState.FAILED || job.state === JobState.CANCELLED)) {
    throw new CellFailedError(
      `fine-tune job ${jobId} ${JobState[job.state]}${job.failureClass ? ` (${FailureClass[job.failureClass]})` : ""}: ${job.error}`,
    );
  }
  throw new CellFailedError(`fine-tune job ${jobId}: watch ended before the job finished`);
}

export async function runCell(options: {
  experimentId: string;
  cell: Cell;
  spec: ExperimentSpec;
  prepared: PreparedDataset;
  clients: CellClients;
  signal: AbortSignal;
  logger: Logger;
  onStage: (stage: string) => void;
}): Promise<CellResult> {
  const { cell, spec, prepared, clients, signal } = options;
  const tuned =
    cell.size > 0
      ? await fineTune(options.experimentId, cell, spec, prepared, clients, signal, options.onStage)
      : { adapterId: "", trainedOn: 0, executor: "" };

  options.onStage(`generate ${cell.key}`);
  const answers = new Map<string, string>();
  let latency = 0;
  let outputTokens = 0;
  const queue = [...prepared.evalItems];
  await Promise.all(
    Array.from({ length: GENERATE_CONCURRENCY }, async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const res = await clients.generator.generate(
          {
            question: item.question,
            contexts: prepared.contexts.get(item.id) ?? [],
            model: { baseModel: cell.model.baseModel, backend: cell.model.backend, adapter: tuned.adapterId },
            sampling: { temperature: 0, maxTokens: 256, seed: spec.seed },
          },
          { signal },
        );
        // Qasper's reference for a question its paper does not answer is "Unanswerable": a model saying so in
        // other words gave that answer.
        const abstained = prepared.abstentionAnswer && isAbstention(res.answer);
        answers.set(item.id, abstained ? prepared.abstentionAnswer! : res.answer);
        latency += res.latencySeconds;
        outputTokens += res.usage?.outputTokens ?? 0;
      }
    }),
  );

  options.onStage(`judge ${cell.key}`);
  const scores: CellResult["scores"] = {};
  const failedRepeats: Record<string, number> = {};
  const judged: ScoreResponse[] = []; // kept whole: answers.jsonl exports every repeat's score and rationale
  for (let start = 0; start < prepared.evalItems.length; start += JUDGE_BATCH) {
    const batch = prepared.evalItems.slice(start, start + JUDGE_BATCH);
    const items: MessageInitShape<typeof ScoreItemSchema>[] = batch.map((item) => ({
      itemId: item.id,
      question: item.question,
      answer: answers.get(item.id) ?? "",
      contexts: (prepared.contexts.get(item.id) ?? []).map((c) => c.text),
      referenceAnswer: item.answer,
      // Every acceptable answer (NQ-open's list, Qasper's annotators): the judge takes the best match over them.
      referenceAnswers: item.answers,
      referenceEvidence: item.evidence,
    }));
    const res = await clients.judge.scoreBatch({ items, criteria: spec.criteria, judge: spec.judge }, { signal });
    judged.push(...res.results);
    for (const result of res.results) {
      for (const score of result.scores) {
        failedRepeats[score.criterion] = (failedRepeats[score.criterion] ?? 0) + score.failedRepeats;
        if (!score.spread || score.spread.n === 0) continue; // every repeat failed: no score, counted above
        scores[result.itemId] ??= {};
        scores[result.itemId][score.criterion] = score.spread.mean;
      }
    }
  }
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
    generationLatencySeconds: prepared.evalItems.length ? latency / prepared.evalItems.length : 0,
    outputTokens,
    finishTime: new Date().toISOString(),
    ...judgedRecords({ cell, prepared, adapterId: tuned.adapterId, answers, judged }),
  };
}
