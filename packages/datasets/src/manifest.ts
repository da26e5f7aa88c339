/**
 * The split manifest's content: building one from a split, its content hashes, and the proof that it is intact
 * and leak-free. The schema is ragtune.datasets.v1.SplitManifest (proto/ragtune/datasets/v1/split_manifest.proto);
 * manifest-file.ts turns it into the file's bytes and back.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Item,
  type Pool,
  PoolSchema,
  type RetrievedContext,
  type SourceFile,
  type SplitManifest,
  SplitManifestSchema,
} from "@ragtune/contracts/datasets";
import type { DatasetSplit } from "./split.js";
import { NEAR_DUPLICATE_JACCARD, nearDuplicatePairs, PAPER_GROUP_PREFIX } from "./split-groups.js";
import { normalizeQuestion, sha256Hex } from "./text.js";
import type { QaItem } from "./types.js";

export type { SplitManifest };
/** One pool of a manifest. */
export type ManifestPool = Pool;
/** One question of a pool, as the manifest records it. */
export type ManifestItem = Item;
/** A retrieved chunk stored with a fine-tuning item: what its RAG prompt shows. */
export type ManifestContext = RetrievedContext;
export type ManifestSource = SourceFile;

/** The split manifest format version this code writes and reads. */
export const MANIFEST_VERSION = 1;

export function itemHash(
  item: Pick<QaItem, "id" | "question" | "answer" | "answers" | "evidence"> & { group?: string },
): string {
  // Fixed key order makes the JSON canonical; `group` only when set, so manifests written before it still verify.
  return sha256Hex(
    JSON.stringify({
      id: item.id,
      question: item.question,
      answer: item.answer,
      answers: item.answers,
      evidence: item.evidence,
      ...(item.group ? { group: item.group } : {}),
    }),
  );
}

export function poolHash(itemHashes: string[]): string {
  return sha256Hex(itemHashes.join("\n"));
}

/** A chunk the retriever returned for a question, as the experiment holds it before it is written. */
export interface RetrievedChunk {
  text: string;
  /** The chunk's id in the retriever's collection. */
  sourceId: string;
  score: number;
}

export interface CreateManifestOptions {
  /** Files the items were loaded from, with their sha256 when known. */
  sources?: { path: string; sha256?: string }[];
  /** Recorded as create_time; default now. */
  now?: Date;
  /**
   * Retrieved chunks by item id, best first. Stored on the fine-tuning pools' items, so a fine-tune renders the
   * same RAG prompt (question + chunks → answer) as the generator gets at evaluation.
   */
  contexts?: ReadonlyMap<string, readonly RetrievedChunk[]>;
}

export function createManifest(split: DatasetSplit, options: CreateManifestOptions = {}): SplitManifest {
  const pools: Record<string, ManifestPool> = {};
  for (const [name, pool] of Object.entries(split.pools)) {
    const items = pool.items.map((item) => {
      const group = split.paperGroups?.get(item.id) ?? "";
      return {
        id: item.id,
        sha256: itemHash({ ...item, group }),
        question: item.question,
        answer: item.answer,
        answers: item.answers,
        evidence: item.evidence,
        contexts: name === "eval" ? [] : [...(options.contexts?.get(item.id) ?? [])],
        group,
      };
    });
    pools[name] = create(PoolSchema, {
      sha256: poolHash(items.map((i) => i.sha256)),
      requestedSize: pool.requestedSize,
      size: items.length,
      items,
    });
  }
  return create(SplitManifestSchema, {
    version: MANIFEST_VERSION,
    dataset: split.dataset,
    seed: BigInt(split.seed),
    createTime: timestampFromDate(options.now ?? new Date()),
    sources: options.sources ?? [],
    duplicateQuestionsDropped: split.duplicateQuestionsDropped,
    answerableOnly: split.answerableOnly ?? false,
    unanswerableQuestionsDropped: split.unanswerableQuestionsDropped ?? 0,
    pools,
  });
}

export interface ManifestVerification {
  ok: boolean;
  problems: string[];
}

/**
 * Whether the split kept this item with its paper, so its wording is no leak: the same templated question about
 * two papers asks two things. A Qasper manifest written before items carried their group was split by paper too.
 */
function paperGrouped(manifest: SplitManifest, item: ManifestItem): boolean {
  return item.group.startsWith(PAPER_GROUP_PREFIX) || (!item.group && manifest.dataset === "qasper");
}

/**
 * Evaluation items that straddle the split with a fine-tuning item: the same paper group on both sides, or
 * (between items not grouped by paper, as the split compares them) questions whose word overlap reaches
 * NEAR_DUPLICATE_JACCARD.
 */
function straddlingGroups(manifest: SplitManifest, train: ManifestItem[]): string[] {
  const problems: string[] = [];
  const evalItems = manifest.pools.eval?.items ?? [];
  const trainGroups = new Set(train.map((item) => item.group).filter(Boolean));
  evalItems.forEach((item, i) => {
    if (item.group && trainGroups.has(item.group))
      problems.push(`pools.eval.items[${i}] (${item.id}): group ${item.group} is also in a fine-tuning pool`);
  });
  const trainChecked = train.filter((item) => !paperGrouped(manifest, item));
  const evalChecked = evalItems.flatMap((item, i) => (paperGrouped(manifest, item) ? [] : [{ item, i }]));
  const questions = [...trainChecked.map((t) => t.question), ...evalChecked.map((e) => e.item.question)];
  for (const [a, b] of nearDuplicatePairs(questions)) {
    // Pairs come as i < j, so a straddling pair is a fine-tuning question (a) and an evaluation one (b).
    if (a >= trainChecked.length || b < trainChecked.length) continue;
    const { item, i } = evalChecked[b - trainChecked.length];
    // The same question text is reported once, by the exact check.
    if (normalizeQuestion(item.question) === normalizeQuestion(trainChecked[a].question)) continue;
    problems.push(
      `pools.eval.items[${i}] (${item.id}): question "${item.question}" is a near-duplicate (word overlap ≥ ${NEAR_DUPLICATE_JACCARD}) of fine-tuning item ${trainChecked[a].id} "${trainChecked[a].question}"`,
    );
  }
  return problems;
}

/**
 * Proves a manifest is intact and leak-free: every hash recomputes, the fine-tuning pools are nested
 * (each smaller pool a prefix of the next), and the eval pool shares no item id, item hash, normalized
 * question text, paper group or near-duplicate question with any fine-tuning pool.
 */
export function verifyManifest(manifest: SplitManifest): ManifestVerification {
  const problems: string[] = [];
  if (manifest.version !== MANIFEST_VERSION) {
    problems.push(`version: expected ${MANIFEST_VERSION}, got ${manifest.version}`);
  }
  const pools = manifest.pools;
  if (!pools.eval) problems.push("pools.eval: missing");
  for (const [name, pool] of Object.entries(pools)) {
    pool.items.forEach((item, i) => {
      const hash = itemHash(item);
      if (hash !== item.sha256)
        problems.push(`pools.${name}.items[${i}] (${item.id}): sha256 does not match its content`);
    });
    if (poolHash(pool.items.map((i) => i.sha256)) !== pool.sha256)
      problems.push(`pools.${name}.sha256: does not match its items`);
    if (pool.size !== pool.items.length)
      problems.push(`pools.${name}.size: ${pool.size} but ${pool.items.length} items`);
    const ids = new Set(pool.items.map((i) => i.id));
    if (ids.size !== pool.items.length) problems.push(`pools.${name}: repeats an item id`);
  }
  const finetune = Object.entries(pools)
    .filter(([name]) => name !== "eval")
    .sort(([, a], [, b]) => a.items.length - b.items.length || a.requestedSize - b.requestedSize);
  for (let i = 1; i < finetune.length; i++) {
    const [smallName, small] = finetune[i - 1];
    const [largeName, large] = finetune[i];
    const nested = small.items.every((item, k) => large.items[k]?.sha256 === item.sha256);
    if (!nested) problems.push(`pools.${smallName} is not nested in pools.${largeName}`);
  }
  if (pools.eval) {
    const trainIds = new Set<string>();
    const trainHashes = new Set<string>();
    const trainQuestions = new Set<string>();
    const train = new Map<string, ManifestItem>();
    for (const [, pool] of finetune) {
      for (const item of pool.items) {
        trainIds.add(item.id);
        trainHashes.add(item.sha256);
        trainQuestions.add(normalizeQuestion(item.question));
        train.set(item.id, item);
      }
    }
    pools.eval.items.forEach((item, i) => {
      if (trainIds.has(item.id)) problems.push(`pools.eval.items[${i}]: id ${item.id} is also in a fine-tuning pool`);
      else if (trainHashes.has(item.sha256))
        problems.push(`pools.eval.items[${i}]: the same item is in a fine-tuning pool`);
      if (trainQuestions.has(normalizeQuestion(item.question))) {
        problems.push(`pools.eval.items[${i}]: question "${item.question}" is also asked in a fine-tuning pool`);
      }
    });
    problems.push(...straddlingGroups(manifest, [...train.values()]));
  }
  return { ok: problems.length === 0, problems };
}
