/**
 * The chunks retrieved for each question of an experiment's dataset, kept outside the gateway's memory: one KV
 * entry per question, written once when the dataset is prepared and read by the cells as they ask and judge it.
 * Held in the process for the whole run they grew with the number of questions (top-5 chunks of 1,500 characters:
 * about 75 MB for 10,000 questions, on top of what the V8 heap keeps around them). Written once and read back,
 * they are also what makes every cell of the dataset, and a run resumed or adopted by another gateway, see the
 * very chunks the first cells saw, instead of what an index that changed meanwhile would retrieve again.
 */
import type { KV } from "@nats-io/kv";
import { type NatsHandle, openKv, waitingOutNatsRestarts } from "@ragtune/runtime";
import type { RetrievedChunk } from "@ragtune/datasets";
import { itemKeyToken } from "./names.js";

export const CONTEXTS_BUCKET = "ragtune_experiment_contexts";
/** As long as the answer journal's: a run paused longer than this retrieves its questions' chunks again. */
const CONTEXTS_TTL_MS = 30 * 24 * 3600 * 1000;
/** About 12 datasets of 10,000 questions at 1,500-character chunks; a finished run's entries are dropped. */
const CONTEXTS_MAX_BYTES = 1024 ** 3;

/** The contexts of one experiment's dataset. */
export interface DatasetContexts {
  /** What is kept for the question; undefined when nothing is. The signal ends a wait for NATS. */
  find(itemId: string, signal?: AbortSignal): Promise<RetrievedChunk[] | undefined>;
  /**
   * Keeps a question's chunks unless some are kept already, and returns those kept: the first write wins, so two
   * preparations racing (a gateway adopting a run its predecessor was still preparing) cannot split the cells.
   */
  keep(itemId: string, contexts: readonly RetrievedChunk[]): Promise<RetrievedChunk[]>;
  /**
   * A question's chunks for a cell. Throws when none are kept: answering or judging without them would change a
   * cell's results silently (the run stops; preparing its dataset again retrieves what was lost).
   */
  get(itemId: string, signal?: AbortSignal): Promise<RetrievedChunk[]>;
}

export interface ContextStore {
  forDataset(experimentId: string, dataset: string): DatasetContexts;
  /** Drops an experiment's entries (its run succeeded: every answer record carries its contexts now). */
  forget(experimentId: string): Promise<void>;
}

/**
 * Experiment ids and dataset names are KV-safe tokens (names.ts); the key always ends in exactly two tokens after
 * the id, so experiment `a` dataset `b` and experiment `a.b` cannot share a key.
 */
const keyOf = (experimentId: string, dataset: string, itemId: string) =>
  `${experimentId}.${dataset}.${itemKeyToken(itemId)}`;

class MissingContextsError extends Error {
  constructor(dataset: string, itemId: string) {
    super(
      `no retrieved chunks are kept for question ${JSON.stringify(itemId)} of dataset ${dataset} ` +
        `(bucket ${CONTEXTS_BUCKET} lost the entry); resume the run to retrieve them again`,
    );
    this.name = "MissingContextsError";
  }
}

/** Shared by both stores: what a cell reads is what was written, or a refusal to go on without it. */
function datasetContexts(
  dataset: string,
  find: (itemId: string, signal?: AbortSignal) => Promise<RetrievedChunk[] | undefined>,
  create: (itemId: string, value: string) => Promise<void>,
): DatasetContexts {
  return {
    find,
    async keep(itemId, contexts) {
      const value = JSON.stringify(contexts.map(({ text, sourceId, score }) => ({ text, sourceId, score })));
      try {
        await create(itemId, value);
      } catch (error) {
        // Kept meanwhile by someone else: theirs is what every cell reads.
        const kept = await find(itemId).catch(() => undefined);
        if (kept) return kept;
        throw error;
      }
      // Returned as read back, so the preparing run uses exactly what its resumed self will read.
      return JSON.parse(value) as RetrievedChunk[];
    },
    async get(itemId, signal) {
      const kept = await find(itemId, signal);
      if (!kept) throw new MissingContextsError(dataset, itemId);
      return kept;
    },
  };
}

export async function createKvContextStore(nats: NatsHandle): Promise<ContextStore> {
  const kv: KV = await openKv(nats.kvm, CONTEXTS_BUCKET, {
    history: 1,
    ttlMs: CONTEXTS_TTL_MS,
    maxBytes: CONTEXTS_MAX_BYTES,
  });
  return {
    forDataset(experimentId, dataset) {
      const key = (itemId: string) => keyOf(experimentId, dataset, itemId);
      return datasetContexts(
        dataset,
        async (itemId, signal) => {
          const entry = await waitingOutNatsRestarts(() => kv.get(key(itemId)), signal);
          if (entry?.operation !== "PUT" || entry.length === 0) return undefined;
          return entry.json<RetrievedChunk[]>();
        },
        async (itemId, value) => {
          await kv.create(key(itemId), value);
        },
      );
    },
    async forget(experimentId) {
      // One purge of the stream's subjects under the experiment, rather than a purge marker per question.
      await nats.jsm.streams.purge(`KV_${CONTEXTS_BUCKET}`, { filter: `$KV.${CONTEXTS_BUCKET}.${experimentId}.*.*` });
    },
  };
}

/** For tests and a gateway without NATS: the same JSON round trip, in a Map. */
export function createMemoryContextStore(): ContextStore {
  const entries = new Map<string, string>();
  return {
    forDataset(experimentId, dataset) {
      const key = (itemId: string) => keyOf(experimentId, dataset, itemId);
      return datasetContexts(
        dataset,
        async (itemId) => {
          const value = entries.get(key(itemId));
          return value === undefined ? undefined : (JSON.parse(value) as RetrievedChunk[]);
        },
        async (itemId, value) => {
          if (entries.has(key(itemId))) throw new Error(`${key(itemId)} exists`);
          entries.set(key(itemId), value);
        },
      );
    },
    async forget(experimentId) {
      const prefix = `${experimentId}.`;
      // Exactly dataset and question after the id: experiment `a` does not drop experiment `a.b`'s.
      const own = (key: string) => key.startsWith(prefix) && key.slice(prefix.length).split(".").length === 2;
      for (const key of [...entries.keys()]) if (own(key)) entries.delete(key);
    },
  };
}
