/**
 * Per dataset of an experiment: load it, split it (seeded; pools held out of evaluation), record the split as
 * a manifest, index its corpus in the retriever, and retrieve the top-k chunks for every question that will be
 * asked or trained on. Every step is deterministic or idempotent, so a resumed run repeats it safely; the chunks
 * are kept in a store once retrieved (question-contexts.ts), so a resumed run reads them back instead of
 * retrieving again, and the gateway does not hold them for the whole run.
 */
import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { DatasetSpec, ExperimentSpec } from "@ragtune/contracts/gateway";
import {
  type IngestDocumentsRequest,
  IngestDocumentsRequestSchema,
  type RetrieverService,
} from "@ragtune/contracts/retriever";
import {
  createManifest,
  estimateTrainingTokens,
  loadDataset,
  poolName,
  QASPER_UNANSWERABLE,
  writeManifest,
  type DatasetName,
  type QaItem,
  type RetrievedChunk,
} from "@ragtune/datasets";
import { type DatasetAccess, datasetPathProblem, defaultDatasetAccess } from "./dataset-access.js";
import { splitForExperiment } from "./experiment-split.js";
import type { ManifestStore } from "./manifest-store.js";
import { createMemoryContextStore, type DatasetContexts } from "./question-contexts.js";

export type RetrievedContext = RetrievedChunk;

/**
 * Where a cell reads a question's chunks: the store they were kept in (read a batch at a time, batch-contexts.ts),
 * or a Map in tests. Undefined: none for that question.
 */
export interface ContextLookup {
  get(
    itemId: string,
    signal?: AbortSignal,
  ): Promise<readonly RetrievedContext[]> | readonly RetrievedContext[] | undefined;
}

export interface PreparedDataset {
  name: string;
  collection: string;
  /** The manifest as training jobs reference it: nats-obj://… when published, else the local file's path. */
  manifestUri: string;
  manifestSha256: string;
  /** Pool name → items actually in it. */
  poolSizes: Record<string, number>;
  /**
   * Pool name → tokens one training pass over it reads (question, retrieved chunks and answer; 4 characters a
   * token): what a fine-tune's time grows with, more than its number of examples (Qasper's chunks are long).
   */
  poolTokens: Record<string, number>;
  evalItems: QaItem[];
  /** Each question's retrieved chunks, read as the cells need them rather than held for the run. */
  contexts: ContextLookup;
  /** What an abstaining answer is judged as: the dataset's own label (Qasper's "Unanswerable"); absent: as said. */
  abstentionAnswer?: string;
}

export function collectionName(experimentId: string, dataset: string): string {
  return `${experimentId}-${dataset}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64);
}

async function* ingestStream(collection: string, documents: Awaited<ReturnType<typeof loadDataset>>["documents"]) {
  yield create(IngestDocumentsRequestSchema, { item: { case: "header", value: { collection } } });
  for (const doc of documents) {
    yield create(IngestDocumentsRequestSchema, {
      item: { case: "document", value: { id: doc.id, text: doc.text, title: doc.title, metadata: doc.metadata } },
    }) as IngestDocumentsRequest;
  }
}

export async function prepareDataset(options: {
  experimentId: string;
  spec: ExperimentSpec;
  dataset: DatasetSpec;
  workDir: string;
  /** The experiment's creation time: recorded in the manifest, so a resumed run writes the identical file. */
  createTime: Date;
  retriever: Client<typeof RetrieverService>;
  /** Publishes the manifest for the trainer's agents; without one, jobs reference the local file. */
  manifests?: ManifestStore;
  /**
   * Where datasets may be read from (default: the default data roots): checked again here, since a stored spec
   * may predate or bypass the API.
   */
  access?: DatasetAccess;
  signal: AbortSignal;
  /** Questions retrieved so far, of how many: the run's progress. */
  onRetrieved?: (done: number, total: number) => void;
  /** Where the questions' chunks are kept (written once, read back by a resumed run); default: in memory. */
  contexts?: DatasetContexts;
}): Promise<PreparedDataset> {
  const { spec, dataset, retriever, signal } = options;
  const refused = await datasetPathProblem(dataset.paths[0], options.access ?? defaultDatasetAccess());
  if (refused) throw new Error(`dataset ${dataset.name}: ${refused}`);
  const loaded = await loadDataset(dataset.format as DatasetName, dataset.paths[0]);
  const split = splitForExperiment(loaded, spec, dataset);

  const collection = collectionName(options.experimentId, dataset.name);
  await retriever.createCollection({ name: collection, chunking: spec.chunking }, { signal });
  const stats = await retriever.getCollectionStats({ name: collection }, { signal });
  if (Number(stats.documentCount) < loaded.documents.length) {
    await retriever.ingestDocuments(ingestStream(collection, loaded.documents), { signal });
  }

  const store = options.contexts ?? createMemoryContextStore().forDataset(options.experimentId, dataset.name);
  const trainingContexts = await retrieveContexts({ ...options, collection, split, store });
  // The manifest carries each training item's retrieved chunks, so a fine-tune sees the same RAG prompt
  // (question + chunks → answer) as the generator builds at evaluation time.
  const manifest = createManifest(split, {
    sources: [{ path: dataset.paths[0] }],
    now: options.createTime,
    contexts: trainingContexts,
  });
  const dir = join(options.workDir, options.experimentId);
  await mkdir(dir, { recursive: true });
  const manifestPath = join(dir, `${dataset.name}.split.json`);
  const bytes = await writeManifest(manifestPath, manifest);
  const manifestSha256 = createHash("sha256").update(bytes).digest("hex");
  const manifestUri = options.manifests
    ? await options.manifests.publish(`${options.experimentId}.${dataset.name}.split.json`, bytes)
    : manifestPath;
  return {
    name: dataset.name,
    collection,
    manifestUri,
    manifestSha256,
    poolSizes: Object.fromEntries(Object.entries(manifest.pools).map(([k, p]) => [k, p.size])),
    poolTokens: Object.fromEntries(
      Object.entries(manifest.pools).map(([k, p]) => [k, estimateTrainingTokens(p.items)]),
    ),
    evalItems: split.pools.eval.items,
    contexts: store,
    abstentionAnswer: dataset.format === "qasper" ? QASPER_UNANSWERABLE : undefined,
  };
}

/**
 * Retrieves the top-k chunks of every question of every pool, unless the store kept them already (a resumed run),
 * and keeps them there. Only the fine-tuning questions' chunks are returned, for the manifest: as many as the
 * largest fine-tune size, never the evaluation questions'.
 */
async function retrieveContexts(options: {
  spec: ExperimentSpec;
  retriever: Client<typeof RetrieverService>;
  collection: string;
  split: ReturnType<typeof splitForExperiment>;
  store: DatasetContexts;
  signal: AbortSignal;
  onRetrieved?: (done: number, total: number) => void;
}): Promise<Map<string, RetrievedContext[]>> {
  const { spec, retriever, collection, split, store, signal } = options;
  const wanted = new Map<string, QaItem>();
  const training = new Set<string>();
  for (const [name, pool] of Object.entries(split.pools)) {
    for (const item of pool.items) {
      wanted.set(item.id, item);
      if (name !== "eval") training.add(item.id);
    }
  }
  const retrieve = async (item: QaItem): Promise<RetrievedContext[]> => {
    // A Qasper question asks about one paper: its answer is searched for in that paper only.
    const paper = item.metadata.paper_id;
    const filter: Record<string, string> = paper ? { paper_id: paper } : {};
    const res = await retriever.search({ collection, query: item.question, topK: spec.topK, filter }, { signal });
    return res.results.map((r) => ({ text: r.chunk?.text ?? "", sourceId: r.chunk?.id ?? "", score: r.score }));
  };
  const trainingContexts = new Map<string, RetrievedContext[]>();
  // One iterator shared by the workers: each takes the next question.
  const queue = wanted.values();
  let done = 0;
  let failed: { error: unknown } | undefined;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      try {
        for (let next = queue.next(); !failed && !next.done; next = queue.next()) {
          const item = next.value;
          const contexts = (await store.find(item.id, signal)) ?? (await store.keep(item.id, await retrieve(item)));
          if (training.has(item.id)) trainingContexts.set(item.id, contexts);
          options.onRetrieved?.(++done, wanted.size);
        }
      } catch (error) {
        // The others stop too and are waited for, so none still searches while the preparation is retried.
        failed ??= { error };
      }
    }),
  );
  if (failed) throw failed.error;
  return trainingContexts;
}

export { poolName };
