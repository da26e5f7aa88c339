/**
 * Every acceptable gold answer of an item: reference_answers, joined by the older single reference_answer
 * (so callers that set only that field keep working), blanks and duplicates dropped, in the caller's order.
 */
import type { ScoreItem } from "@ragtune/contracts/judge";

export function referenceAnswersOf(item: Pick<ScoreItem, "referenceAnswer" | "referenceAnswers">): string[] {
  const seen = new Set<string>();
  const answers: string[] = [];
  for (const answer of [item.referenceAnswer, ...item.referenceAnswers]) {
    const trimmed = answer.trim();
    if (trimmed === "" || seen.has(trimmed)) continue;
    seen.add(trimmed);
    answers.push(trimmed);
  }
  return answers;
}
