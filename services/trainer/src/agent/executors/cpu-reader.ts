/**
 * Trains the generator's extractive reader on the job's pairs, on the CPU: the embedded default experiment's
 * "fine-tune". The adapter is the reader's weights file, which the generator's extractive backend loads.
 */
import { type ReaderWeights, trainReader as defaultTrainReader } from "@ragtune/reader";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Executor, ExecutorContext } from "./executor.js";
import { userError } from "./executor.js";

export const READER_WEIGHTS_FILE = "reader-weights.json";

export function createCpuReaderExecutor(trainReader = defaultTrainReader): Executor {
  return {
    name: "cpu-reader",
    async run(ctx: ExecutorContext) {
      const spec = ctx.job.spec;
      if (!spec) throw userError("the job has no spec");
      const pairs = ctx.pairs.map((p) => ({ question: p.question, answers: p.answers, contexts: p.contexts }));
      if (pairs.every((p) => p.contexts.length === 0)) {
        throw userError("no training pair has contexts or evidence for the reader to learn from");
      }
      const started = performance.now();
      // The reader's SGD has no learning-rate schedule or batches; epochs and seed carry over, and its own
      // default step size is used because the spec's 2e-4 is an LLM learning rate.
      const weights: ReaderWeights = trainReader(pairs, {
        epochs: spec.epochs,
        seed: Number(spec.seed) || 1,
        onEpoch: ({ epoch, epochs, loss }) => {
          if (ctx.signal.aborted) throw new Error("cancelled");
          ctx.onProgress({ step: BigInt(epoch), totalSteps: BigInt(epochs), epoch, loss });
        },
      });
      await writeFile(join(ctx.adapterDir, READER_WEIGHTS_FILE), `${JSON.stringify(weights, null, 2)}\n`);
      const training = weights.training;
      return {
        metrics: {
          train_runtime_seconds: (performance.now() - started) / 1000,
          train_pairs: pairs.length,
          ...(training
            ? {
                train_loss: training.finalLoss,
                top1_accuracy_before: training.top1AccuracyBefore,
                top1_accuracy_after: training.top1AccuracyAfter,
                pairs_skipped: training.pairsSkipped,
              }
            : {}),
        },
      };
    },
  };
}
