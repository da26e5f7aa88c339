/**
 * Finished cells of an experiment, one KV entry each: what makes a run resumable (a finished cell is never
 * redone) and what the results table is computed from. A cell's answers with their contexts and judge repeats
 * are too large for a KV entry (a G-Eval cell: 200 answers × 2 criteria × 10 rationales), so they go to an
 * object beside it, written before the entry: a cell that is done always has its answers.
 */
import { fromJsonString, toJsonString } from "@bufbuild/protobuf";
import type { KV } from "@nats-io/kv";
import { type AnswerRecord, AnswerRecordSchema } from "@ragtune/contracts/gateway";
import { type NatsHandle, openKv, openObjectStore } from "@ragtune/runtime";
import type { JudgeSummary } from "./answer-records.js";
import { CELL_KEY_TOKENS } from "./cells.js";

export const CELLS_BUCKET = "ragtune_experiment_cells";
export const ANSWERS_BUCKET = "ragtune_experiment_answers";

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
  /** SHA-256 of the split manifest the questions came from; absent in results stored before it was kept. */
  manifestSha256?: string;
  /** Per criterion: how the judge scored; absent in results stored before it was kept. */
  judge?: Record<string, JudgeSummary>;
  /** Every answer with its contexts and judge repeats: on put, stored beside the entry, not in it. */
  answers?: AnswerRecord[];
}

export interface CellResultStore {
  get(experimentId: string, cellKey: string): Promise<CellResult | undefined>;
  put(experimentId: string, result: CellResult): Promise<void>;
  list(experimentId: string): Promise<CellResult[]>;
  /** The answers kept for a finished cell, read as they are yielded (none for cells stored before they were kept). */
  answers(experimentId: string, cellKey: string): AsyncIterable<AnswerRecord>;
  /**
   * Streams a cell's answers to where answers() reads them, as they come, so no cell is held whole; resolves once
   * all are stored. Before put() of the cell's result (given without answers): a done cell has its answers.
   */
  writeAnswers(experimentId: string, cellKey: string, records: AsyncIterable<AnswerRecord>): Promise<void>;
}

/** JSON lines as bytes, pulled one record at a time (the object store asks for more as it sends). */
function jsonlStream(records: AsyncIterable<AnswerRecord>): ReadableStream<Uint8Array> {
  const iterator = records[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(`${toJsonString(AnswerRecordSchema, next.value)}\n`));
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

function answersToJsonl(answers: readonly AnswerRecord[]): string {
  return answers.map((a) => `${toJsonString(AnswerRecordSchema, a)}\n`).join("");
}

function answersFromJsonl(text: string): AnswerRecord[] {
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => fromJsonString(AnswerRecordSchema, line));
}

const keyOf = (experimentId: string, cellKey: string) => `${experimentId}.${cellKey}`;

/**
 * The key filter of exactly one experiment's cells: its id's tokens, then one `*` per cell key token. A bare
 * `<id>.>` would also match experiment `<id>.<more>`'s cells (experiment `a` listing `a.b`'s).
 */
const cellsOf = (experimentId: string) => [experimentId, ...Array(CELL_KEY_TOKENS).fill("*")].join(".");

export async function createKvCellResultStore(nats: NatsHandle): Promise<CellResultStore> {
  const kv: KV = await openKv(nats.kvm, CELLS_BUCKET, { history: 1 });
  const objects = await openObjectStore(nats.objm, ANSWERS_BUCKET);
  const decode = (data: Uint8Array) => JSON.parse(new TextDecoder().decode(data)) as CellResult;
  return {
    async get(experimentId, cellKey) {
      const entry = await kv.get(keyOf(experimentId, cellKey));
      return entry && entry.operation === "PUT" && entry.length > 0 ? decode(entry.value) : undefined;
    },
    async put(experimentId, { answers, ...result }) {
      if (answers) {
        await objects.putBlob({ name: keyOf(experimentId, result.cellKey) }, Buffer.from(answersToJsonl(answers)));
      }
      await kv.put(keyOf(experimentId, result.cellKey), JSON.stringify(result));
    },
    async list(experimentId) {
      const out: CellResult[] = [];
      for await (const key of await kv.keys(cellsOf(experimentId))) {
        const entry = await kv.get(key);
        if (entry?.operation !== "PUT" || entry.length === 0) continue;
        const result = decode(entry.value);
        // The entry names its own cell: kept only when it is this experiment's key for that cell.
        if (keyOf(experimentId, result.cellKey) === key) out.push(result);
      }
      return out;
    },
    async *answers(experimentId, cellKey) {
      const object = await objects.get(keyOf(experimentId, cellKey));
      if (!object) return;
      const decoder = new TextDecoder();
      let pending = "";
      for await (const chunk of object.data) {
        pending += decoder.decode(chunk, { stream: true });
        const lines = pending.split("\n");
        pending = lines.pop()!;
        for (const line of lines) if (line) yield fromJsonString(AnswerRecordSchema, line);
      }
      if (pending) yield fromJsonString(AnswerRecordSchema, pending);
      const error = await object.error;
      if (error) throw error;
    },
    async writeAnswers(experimentId, cellKey, records) {
      await objects.put({ name: keyOf(experimentId, cellKey) }, jsonlStream(records));
    },
  };
}

export function createMemoryCellResultStore(): CellResultStore {
  const results = new Map<string, CellResult>();
  const answers = new Map<string, string>();
  return {
    async get(experimentId, cellKey) {
      return results.get(keyOf(experimentId, cellKey));
    },
    async put(experimentId, { answers: records, ...result }) {
      // Kept as JSON lines, as in the object store, so memory and NATS stores give back the same records.
      if (records) answers.set(keyOf(experimentId, result.cellKey), answersToJsonl(records));
      results.set(keyOf(experimentId, result.cellKey), structuredClone(result));
    },
    async list(experimentId) {
      return [...results.entries()].filter(([k, v]) => k === keyOf(experimentId, v.cellKey)).map(([, v]) => v);
    },
    async *answers(experimentId, cellKey) {
      yield* answersFromJsonl(answers.get(keyOf(experimentId, cellKey)) ?? "");
    },
    async writeAnswers(experimentId, cellKey, records) {
      let text = "";
      for await (const record of records) text += `${toJsonString(AnswerRecordSchema, record)}\n`;
      answers.set(keyOf(experimentId, cellKey), text);
    },
  };
}
