/**
 * Items that must land on the same side of a split: a Qasper paper's questions (their answers come from the same
 * paper, so a paper in a fine-tuning pool and in evaluation would leak its text).
 */
import { normalizeQuestion } from "./text.js";
import type { QaItem } from "./types.js";

export interface SplitGroup {
  /** What the group's place in the seeded order is hashed from: the paper, or the question for a lone item. */
  key: string;
  items: QaItem[];
}

/** Groups items by `metadata.paper_id`; an item without one is a group of its own. */
export function splitGroups(items: readonly QaItem[]): SplitGroup[] {
  const groups = new Map<string, QaItem[]>();
  for (const item of items) {
    const paper = item.metadata.paper_id;
    const key = paper ? `paper_id:${paper}` : normalizeQuestion(item.question);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return [...groups].map(([key, members]) => ({ key, items: members }));
}
