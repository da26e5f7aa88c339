/**
 * The answers a cell's generator has given, one KV entry per question, written as each comes back. A cell's
 * answer records reach the store only when the whole cell is judged, so without this a cell run again (its gateway
 * killed and the run adopted, or a run resumed) would ask the model every question again: GPU time spent twice,
 * and with sampling a different answer than the first. A finished cell's entries are forgotten (its answers are in
 * its records then); the bucket's TTL clears what a deleted experiment left.
 */
import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { type Logger, type NatsHandle, openKv } from "@ragtune/runtime";
import { sleep } from "./call-retries.js";
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

/** How long a journal call waits out NATS restarting before the cell goes on without it. */
const PATIENCE_MS = 30_000;

/**
 * A cell's journal that rides out NATS restarting: a call that fails for a passing reason is tried again for up
 * to 30 s, and after that the cell goes on without it (an answer not kept is only asked again if the cell is run
 * again; an answer not found is asked for). The journal saves work; it must never be why a cell stops.
 */
export function patientJournal(journal: CellAnswerJournal, logger: Logger, signal?: AbortSignal): CellAnswerJournal {
  async function patiently<T>(what: string, call: () => Promise<T>, otherwise: T): Promise<T> {
    const started = Date.now();
    for (let delayMs = 250; ; delayMs = Math.min(4000, delayMs * 2)) {
      try {
        return await call();
      } catch (error) {
        if (!isRunInterruption(error)) throw error;
        if (signal?.aborted || Date.now() - started + delayMs > PATIENCE_MS) {
          logger.warn(`answer journal unreachable; going on without it (${what})`, { error: String(error) });
          return otherwise;
        }
        await sleep(delayMs, signal).catch(() => {});
      }
    }
  }
  return {
    get: (itemId) => patiently("an answer given before is asked for again", () => journal.get(itemId), undefined),
    put: (itemId, answer) =>
      patiently("this answer is not kept for a rerun", () => journal.put(itemId, answer), undefined),
  };
}

/** Item ids come from datasets (any characters, any length): a KV key token is their hash. */
const itemToken = (itemId: string) => createHash("sha256").update(itemId).digest("hex").slice(0, 32);
const cellPrefix = (experimentId: string, cellKey: string) => `${experimentId}.${cellKey}`;

export async function createKvAnswerJournal(nats: NatsHandle): Promise<AnswerJournal> {
  const kv: KV = await openKv(nats.kvm, ANSWER_JOURNAL_BUCKET, {
    history: 1,
    ttlMs: JOURNAL_TTL_MS,
    maxBytes: JOURNAL_MAX_BYTES,
  });
  return {
    forCell(experimentId, cellKey) {
      const key = (itemId: string) => `${cellPrefix(experimentId, cellKey)}.${itemToken(itemId)}`;
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
      const keys: string[] = [];
      for await (const key of await kv.keys(`${cellPrefix(experimentId, cellKey)}.*`)) keys.push(key);
      for (const key of keys) await kv.purge(key);
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
        get: async (itemId) => entries.get(prefix + itemToken(itemId)),
        put: async (itemId, answer) => void entries.set(prefix + itemToken(itemId), { ...answer }),
      };
    },
    async forget(experimentId, cellKey) {
      const prefix = prefixOf(experimentId, cellKey);
      for (const key of [...entries.keys()]) if (key.startsWith(prefix)) entries.delete(key);
    },
  };
}
