/**
 * Trains the generator's extractive reader on the job's pairs, on the CPU: the embedded default experiment's
 * "fine-tune". The adapter is the reader's weights file, which the generator's extractive backend loads.
 * Training runs in a worker thread (cpu-reader-worker.ts) so the agent keeps heartbeating however long it takes;
 * a cancelled job terminates the worker.
 */
import type { ReaderWeights } from "@ragtune/reader";
import { writeFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { ReaderTrainingInput, ReaderWorkerMessage } from "./cpu-reader-worker.js";
import type { Executor, ExecutorContext } from "./executor.js";
import { userError } from "./executor.js";

export const READER_WEIGHTS_FILE = "reader-weights.json";

// The worker sits beside this module: .js in dist/, .ts when run from source under tsx (tests), where the worker
// thread must register tsx itself (Node 20 does not carry --import hooks into workers).
const FROM_SOURCE = extname(fileURLToPath(import.meta.url)) === ".ts";
const WORKER_URL = new URL(`./cpu-reader-worker${FROM_SOURCE ? ".ts" : ".js"}`, import.meta.url);

function startWorker(workerData: ReaderTrainingInput): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { workerData });
  const tsx = import.meta.resolve("tsx/esm/api");
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(code, { eval: true, workerData });
}

/** Trains in a worker thread; rejects with "cancelled" when the signal aborts (the worker is terminated). */
function trainInWorker(
  input: ReaderTrainingInput,
  signal: AbortSignal,
  onEpoch: (progress: { epoch: number; epochs: number; loss: number }) => void,
): Promise<ReaderWeights> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error("cancelled"));
    const worker = startWorker(input);
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", cancel);
      outcome();
    };
    const cancel = () => {
      finish(() => reject(new Error("cancelled")));
      void worker.terminate();
    };
    signal.addEventListener("abort", cancel, { once: true });
    worker.on("message", (message: ReaderWorkerMessage) => {
      if (message.type === "epoch") onEpoch(message);
      else finish(() => resolve(message.weights));
    });
    worker.once("error", (error) => finish(() => reject(error)));
    worker.once("exit", (code) => finish(() => reject(new Error(`reader training worker exited with ${code}`))));
  });
}

export function createCpuReaderExecutor(): Executor {
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
      const weights = await trainInWorker(
        { pairs, epochs: spec.epochs, seed: Number(spec.seed) || 1 },
        ctx.signal,
        ({ epoch, epochs, loss }) => ctx.onProgress({ step: BigInt(epoch), totalSteps: BigInt(epochs), epoch, loss }),
      );
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
