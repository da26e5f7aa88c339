/**
 * Finished cells of an experiment, one KV entry each: what makes a run resumable (a finished cell is never
 * redone) and what the results table is computed from.
 */
import type { KV } from "@nats-io/kv";
import type { NatsHandle } from "@ragtune/runtime";

export const CELLS_BUCKET = "ragtune_experiment_cells";

export interface CellResult {
  cellKey: string;
  dataset: string;
  baseModel: string;
  modelIndex: number;
  method: number;
  size: number;
  /** Pool size the fine-tune really used (smaller than size when the dataset is small). */
  trainedOn: number;
  hyperparametersIndex: number;
  adapterId: string;
  /** Trainer executor that produced the adapter; absent for base cells and results stored before it was kept. */
  executor?: string;
  /** Per question: criterion → mean score over the judge's repeats. */
  scores: Record<string, Record<string, number>>;
  /** Judge repeats that failed, per criterion. */
  failedRepeats: Record<string, number>;
  /** Mean generation latency, s, and total tokens out. */
  generationLatencySeconds: number;
  outputTokens: number;
  finishTime: string;
}

export interface CellResultStore {
  get(experimentId: string, cellKey: string): Promise<CellResult | undefined>;
  put(experimentId: string, result: CellResult): Promise<void>;
  list(experimentId: string): Promise<CellResult[]>;
}

const keyOf = (experimentId: string, cellKey: string) => `${experimentId}.${cellKey}`;

export async function createKvCellResultStore(nats: NatsHandle): Promise<CellResultStore> {
  const kv: KV = await nats.kvm.create(CELLS_BUCKET, { history: 1 });
  const decode = (data: Uint8Array) => JSON.parse(new TextDecoder().decode(data)) as CellResult;
  return {
    async get(experimentId, cellKey) {
      const entry = await kv.get(keyOf(experimentId, cellKey));
      return entry && entry.operation === "PUT" && entry.length > 0 ? decode(entry.value) : undefined;
    },
    async put(experimentId, result) {
      await kv.put(keyOf(experimentId, result.cellKey), JSON.stringify(result));
    },
    async list(experimentId) {
      const out: CellResult[] = [];
      for await (const key of await kv.keys(`${experimentId}.>`)) {
        const entry = await kv.get(key);
        if (entry && entry.operation === "PUT" && entry.length > 0) out.push(decode(entry.value));
      }
      return out;
    },
  };
}

export function createMemoryCellResultStore(): CellResultStore {
  const results = new Map<string, CellResult>();
  return {
    async get(experimentId, cellKey) {
      return results.get(keyOf(experimentId, cellKey));
    },
    async put(experimentId, result) {
      results.set(keyOf(experimentId, result.cellKey), structuredClone(result));
    },
    async list(experimentId) {
      return [...results.entries()].filter(([k]) => k.startsWith(`${experimentId}.`)).map(([, v]) => v);
    },
  };
}
