import type { Draw } from "./random.js";

/** A sentence template: one of several phrasings, so questions and passages are not one fixed string each. */
export type Phrasings = readonly string[];

/** Fills `{name}` slots of one drawn phrasing; a phrasing that starts with a slot gets a capital first letter. */
export function phrase(draw: Draw, phrasings: Phrasings, slots: Record<string, string | number>): string {
  const text = draw.pick(phrasings).replace(/\{(\w+)\}/g, (_, key: string) => {
    if (!(key in slots)) throw new Error(`phrasing slot {${key}} has no value`);
    return String(slots[key]);
  });
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "A, B and C". */
export function joinList(values: readonly string[]): string {
  return values.length <= 1 ? (values[0] ?? "") : `${values.slice(0, -1).join(", ")} and ${values.at(-1)}`;
}
