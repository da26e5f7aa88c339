/**
 * The reader's training in a worker thread: trainReader is synchronous CPU work, and on the agent's event loop a
 * long training would stop its heartbeats (the trainer would declare the node lost and requeue the job).
 */
import { parentPort, workerData } from "node:worker_threads";
import { type ReaderTrainingPair, trainReader } from "@ragtune/reader";

export interface ReaderTrainingInput {
  pairs: ReaderTrainingPair[];
  epochs: number;
  seed: number;
}

export type ReaderWorkerMessage =
  | { type: "epoch"; epoch: number; epochs: number; loss: number }
  | { type: "done"; weights: ReturnType<typeof trainReader> };

const input = workerData as ReaderTrainingInput;
const post = (message: ReaderWorkerMessage) => parentPort?.postMessage(message);
const weights = trainReader(input.pairs, {
  epochs: input.epochs,
  seed: input.seed,
  onEpoch: ({ epoch, epochs, loss }) => post({ type: "epoch", epoch, epochs, loss }),
});
post({ type: "done", weights });
