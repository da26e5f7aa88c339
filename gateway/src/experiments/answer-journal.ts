/**
 * The answers a cell's generator has given, one KV entry per question, written as each comes back. A cell's
 * answer records reach the store only when the whole cell is judged, so without this a cell run again (its gateway
 * killed and the run adopted, or a run resumed) would ask the model every question again: GPU time spent twice,
 * and with sampling a different answer than the first. A finished cell's entries are forgotten (its answers are in
 * its records then); the bucket's TTL clears what a deleted experiment left.
 */
import type { KV } from "@nats-io/kv";
import { type Logger, type NatsHandle, openKv, waitingOutNatsRestarts } from "@ragtune/runtime";
import { itemKeyToken } from "./names.js";
import { isRunInterruption } from "./run-interruptions.js";

export const ANSWER_JOURNAL_BUCKET = "ragtune_experiment_generated";
/** Long enough for a paused run to be resumed weeks later; a run that waits longer asks again. */
const JOURNAL_TTL_MS = 30 * 24 * 3600 * 1000;
const JOURNAL_MAX_BYTES = 2 * 1024 ** 3;

/** What the generator returned for one question, as the cell's results need it. */
export interface JournalledAnswer {
  answer: string;
  latencySeconds: number;
  outputTokens: number;
}

/** One cell's journal. */
export interface CellAnswerJournal {
  get(itemId: string): Promise<JournalledAnswer | undefined>;
  put(itemId: string, answer: JournalledAnswer): Promise<void>;
}

export interface AnswerJournal {
  forCell(experimentId: string, cellKey: string): CellAnswerJournal;
  /** Drops a finished cell's entries. */
  forget(experimentId: string, cellKey: string): Promise<void>;
}

/**
 * A cell's journal that rides out NATS restarting: a call that fails for a passing reason is tried again for up
 * to 30 s, and after that the cell goes on without it (an answer not kept is only asked again if the cell is run
 * again; an answer not found is asked for). The journal saves work; it must never be why a cell stops.
 */
export function patientJournal(journal: CellAnswerJournal, logger: Logger, signal?: AbortSignal): CellAnswerJournal {
  async function patiently<T>(what: string, call: () => Promise<T>, otherwise: T): Promise<T> {
    try {
      return await waitingOutNatsRestarts(call, signal);
    } catch (error) {
      const cellStopping = signal?.aborted && error === signal.reason;
      if (!isRunInterruption(error) && !cellStopping) throw error;
      logger.warn(`answer journal unreachable; going on without it (${what})`, { error: String(error) });
      return otherwise;
    }
  }
  return {
    get: (itemId) => patiently("an answer given before is asked for again", () => journal.get(itemId), undefined),
    put: (itemId, answer) =>
      patiently("this answer is not kept for a rerun", () => journal.put(itemId, answer), undefined),
  };
}

const cellPrefix = (experimentId: string, cellKey: string) => `${experimentId}.${cellKey}`;

export async function createKvAnswerJournal(nats: NatsHandle): Promise<AnswerJournal> {
  const kv: KV = await openKv(nats.kvm, ANSWER_JOURNAL_BUCKET, {
    history: 1,
    ttlMs: JOURNAL_TTL_MS,
    maxBytes: JOURNAL_MAX_BYTES,
  });
  return {
    forCell(experimentId, cellKey) {
      const key = (itemId: string) => `${cellPrefix(experimentId, cellKey)}.${itemKeyToken(itemId)}`;
      return {
        async get(itemId) {
          const entry = await kv.get(key(itemId));
          if (entry?.operation !== "PUT" || entry.length === 0) return undefined;
          return entry.json<JournalledAnswer>();
        },
        async put(itemId, answer) {
          await kv.put(key(itemId), JSON.stringify(answer));
        },
      };
    },
    async forget(experimentId, cellKey) {
      // One purge of the stream's subjects under the cell, rather than a purge marker per question.
      const cellSubjects = `$KV.${ANSWER_JOURNAL_BUCKET}.${cellPrefix(experimentId, cellKey)}.*`;
      await nats.jsm.streams.purge(`KV_${ANSWER_JOURNAL_BUCKET}`, { filter: cellSubjects });
    },
  };
}

export function createMemoryAnswerJournal(): AnswerJournal {
  const entries = new Map<string, JournalledAnswer>();
  const prefixOf = (experimentId: string, cellKey: string) => `${cellPrefix(experimentId, cellKey)}.`;
  return {
    forCell(experimentId, cellKey) {
      const prefix = prefixOf(experimentId, cellKey);
      return {
        get: async (itemId) => entries.get(prefix + itemKeyToken(itemId)),
        put: async (itemId, answer) => void entries.set(prefix + itemKeyToken(itemId), { ...answer }),
      };
    },
    async forget(experimentId, cellKey) {
      const prefix = prefixOf(experimentId, cellKey);
      for (const key of [...entries.keys()]) if (key.startsWith(prefix)) entries.delete(key);
    },
  };
}
