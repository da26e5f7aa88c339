import { PAPER_GROUP_PREFIX, splitGroups } from "./split-groups.js";
import { normalizeQuestion, sha256Hex } from "./text.js";
import type { DatasetName, QaItem } from "./types.js";

export interface SplitOptions {
  dataset: DatasetName;
  seed: number;
  /** Nested fine-tuning pool sizes, ascending. Default 200, 500, 1000 (the paper's). */
  poolSizes?: number[];
  /** Evaluation items. Default: a fifth of the (de-duplicated) items, at least 1. */
  evalSize?: number;
  /**
   * The corpus's document ids: when given, items none of whose evidence documents is among them are left out
   * (and counted), since retrieval cannot find their answer. Left out: every item is kept.
   */
  answerableIn?: ReadonlySet<string>;
}

export interface SplitPool {
  /** Size asked for; `items.length` is smaller when the dataset is. */
  requestedSize: number;
  items: QaItem[];
}

export interface DatasetSplit {
  dataset: DatasetName;
  seed: number;
  /** "finetune-200", "finetune-500", "finetune-1000" (by requested size), and "eval". */
  pools: Record<string, SplitPool>;
  /** Items dropped because an earlier item (by id order) has the same normalized question. */
  duplicateQuestionsDropped: number;
  /** Whether unanswerable items were left out (`answerableIn` was given). Absent: false. */
  answerableOnly?: boolean;
  /** Items left out because none of their evidence documents is in the corpus. Absent: 0. */
  unanswerableQuestionsDropped?: number;
  /** Item id → the paper group ("paper_id:<id>") it was kept with; items grouped by wording alone are absent. */
  paperGroups?: ReadonlyMap<string, string>;
}

/** An item is answerable from the corpus when one of its evidence documents is in it. */
export function isAnswerable(item: QaItem, documentIds: ReadonlySet<string>): boolean {
  return item.evidenceDocumentIds.some((id) => documentIds.has(id));
}

export const DEFAULT_POOL_SIZES = [200, 500, 1000];

export function poolName(size: number): string {
  return `finetune-${size}`;
}

/**
 * A seeded split: each group's place is the hash of (seed, group key), so it does not depend on file order; a
 * group is a paper's questions (Qasper), a set of near-duplicate questions, or a lone question (keyed by its
 * normalized text; see split-groups.ts). Evaluation takes whole groups from the end of that order (passing over one
 * that would overshoot `evalSize`, unless evaluation is still empty), the fine-tuning pools nested prefixes of the
 * rest (200 ⊂ 500 ⊂ 1000); so no paper and no near-duplicate pair is on both sides.
 * Items repeating a question text are dropped first, so no question text can sit on both sides.
 */
export function splitDataset(items: QaItem[], options: SplitOptions): DatasetSplit {
  const poolSizes = [...(options.poolSizes ?? DEFAULT_POOL_SIZES)].sort((a, b) => a - b);
  const byQuestion = new Map<string, QaItem>();
  const ids = new Set<string>();
  let duplicates = 0;
  const answerable = options.answerableIn ? items.filter((item) => isAnswerable(item, options.answerableIn!)) : items;
  for (const item of [...answerable].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (ids.has(item.id)) throw new Error(`item id "${item.id}" appears twice`);
    ids.add(item.id);
    const key = normalizeQuestion(item.question);
    if (byQuestion.has(key)) duplicates++;
    else byQuestion.set(key, item);
  }
  const rank = (key: string) => sha256Hex(`${options.seed}\u0000${key}`);
  const byRank = <T>(entries: { rank: string; value: T }[]) =>
    entries.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0)).map((entry) => entry.value);
  const grouped = splitGroups([...byQuestion.values()]);
  const paperGroups = new Map<string, string>();
  for (const group of grouped) {
    if (group.key.startsWith(PAPER_GROUP_PREFIX)) for (const item of group.items) paperGroups.set(item.id, group.key);
  }
  const groups = byRank(
    grouped.map((group) => ({
      rank: rank(group.key),
      value: byRank(group.items.map((item) => ({ rank: rank(normalizeQuestion(item.question)), value: item }))),
    })),
  );
  const total = byQuestion.size;
  const evalSize = Math.min(total, options.evalSize ?? Math.max(1, Math.ceil(total / 5)));
  const evaluationGroups: QaItem[][] = [];
  const trainableGroups: QaItem[][] = [];
  let evaluated = 0;
  for (const group of groups.reverse()) {
    const fits = evaluated + group.length <= evalSize || evaluated === 0;
    if (evaluated < evalSize && fits) {
      evaluationGroups.push(group);
      evaluated += group.length;
    } else trainableGroups.push(group);
  }
  const evaluation = evaluationGroups.reverse().flat();
  const trainable = trainableGroups.reverse().flat();
  const pools: Record<string, SplitPool> = {};
  for (const size of poolSizes) pools[poolName(size)] = { requestedSize: size, items: trainable.slice(0, size) };
  pools.eval = { requestedSize: evalSize, items: evaluation };
  return {
    dataset: options.dataset,
    seed: options.seed,
    pools,
    duplicateQuestionsDropped: duplicates,
    answerableOnly: Boolean(options.answerableIn),
    unanswerableQuestionsDropped: items.length - answerable.length,
    paperGroups,
  };
}
