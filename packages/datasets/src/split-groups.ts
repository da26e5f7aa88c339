/**
 * Items that must land on the same side of a split: a Qasper paper's questions (their answers come from the same
 * paper, so a paper in a fine-tuning pool and in evaluation would leak its text), and near-duplicate questions
 * (BioASQ asks some questions twice in other words: training on one and evaluating on the other is leakage).
 */
import { normalizeQuestion } from "./text.js";
import type { QaItem } from "./types.js";

/** Word-overlap (Jaccard over lower-cased word sets) at or above which two questions are near-duplicates. */
export const NEAR_DUPLICATE_JACCARD = 0.8;

/** How a paper's group key starts; the manifest records it on the paper's items. */
export const PAPER_GROUP_PREFIX = "paper_id:";

export interface SplitGroup {
  /** What the group's place in the seeded order is hashed from: its paper, else its first question's text. */
  key: string;
  items: QaItem[];
}

/** A question's lower-cased word set. */
export function questionWords(question: string): Set<string> {
  return new Set(
    question
      .normalize("NFKC")
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? [],
  );
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let shared = 0;
  for (const word of a) if (b.has(word)) shared++;
  const union = a.size + b.size - shared;
  return union === 0 ? 0 : shared / union;
}

/**
 * Index pairs [i, j] (i < j) of questions whose word sets overlap by at least `threshold`. Prefix filtering keeps
 * it near-linear: with words ordered rarest first, two sets that overlap that much must share a word among the
 * first |A| - ⌈threshold·|A|⌉ + 1 of each, so only such pairs are compared.
 */
export function nearDuplicatePairs(
  questions: readonly string[],
  threshold = NEAR_DUPLICATE_JACCARD,
): [number, number][] {
  const sets = questions.map(questionWords);
  const frequency = new Map<string, number>();
  for (const set of sets) for (const word of set) frequency.set(word, (frequency.get(word) ?? 0) + 1);
  const rarestFirst = (a: string, b: string) => frequency.get(a)! - frequency.get(b)! || (a < b ? -1 : a > b ? 1 : 0);
  const index = new Map<string, number[]>();
  const pairs: [number, number][] = [];
  sets.forEach((set, j) => {
    const prefix = [...set].sort(rarestFirst).slice(0, set.size - Math.ceil(threshold * set.size) + 1);
    const candidates = new Set<number>();
    for (const word of prefix) for (const i of index.get(word) ?? []) candidates.add(i);
    for (const i of [...candidates].sort((a, b) => a - b)) if (jaccard(sets[i], set) >= threshold) pairs.push([i, j]);
    for (const word of prefix) index.set(word, [...(index.get(word) ?? []), j]);
  });
  return pairs;
}

/**
 * Groups items that share `metadata.paper_id` or (items without a paper) are near-duplicates, transitively: a
 * chain of near-duplicates is one group. Every other item is a group of its own.
 */
export function splitGroups(items: readonly QaItem[]): SplitGroup[] {
  const parent = items.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  const join = (a: number, b: number) => {
    const [ra, rb] = [root(a), root(b)];
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  const firstOfPaper = new Map<string, number>();
  items.forEach((item, i) => {
    const paper = item.metadata.paper_id;
    if (!paper) return;
    if (firstOfPaper.has(paper)) join(firstOfPaper.get(paper)!, i);
    else firstOfPaper.set(paper, i);
  });
  // A paper's questions are one group already; the same wording about two papers asks two different things
  // (Qasper's "Which datasets do they use?"), so near-duplicates are looked for among paperless items only.
  const paperless = items.flatMap((item, i) => (item.metadata.paper_id ? [] : [i]));
  for (const [a, b] of nearDuplicatePairs(paperless.map((i) => items[i].question))) join(paperless[a], paperless[b]);
  const groups = new Map<number, QaItem[]>();
  items.forEach((item, i) => {
    const members = groups.get(root(i));
    if (members) members.push(item);
    else groups.set(root(i), [item]);
  });
  // A group's key must not depend on input order: its paper, else the smallest of its questions.
  return [...groups.values()].map((members) => {
    const papers = members
      .map((m) => m.metadata.paper_id)
      .filter(Boolean)
      .sort();
    const questions = members.map((m) => normalizeQuestion(m.question)).sort();
    return { key: papers.length ? `${PAPER_GROUP_PREFIX}${papers[0]}` : questions[0], items: members };
  });
}
