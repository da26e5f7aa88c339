/**
 * Answers that decline to answer. Qasper marks a question no annotator could answer from the paper as
 * "Unanswerable", while a RAG prompt asks the model to say that the context does not answer it: the two mean the
 * same, so an abstaining answer is judged as the dataset's own label.
 */

/** Qasper's answer for a question the paper does not answer (the loader's reference for such questions). */
export const QASPER_UNANSWERABLE = "Unanswerable";

const ABSTENTION = [
  /\bunanswerable\b/,
  /\b(context|passages?|text|paper|documents?|information|sources?)\b.{0,40}\b(does|do|did) ?n[o']t\b.{0,20}\b(answer|contain|mention|provide|say|state|specify|include|give|address)/,
  /\b(not|never) (answerable|mentioned|specified|provided|stated|given|addressed|available)\b/,
  /\b(cannot|can ?not|can't|unable to)\b.{0,30}\b(answer|determine|tell|find|found|say)\b/,
  /\bi (do not|don't) know\b/,
  /^no (information|answer)\b/,
];

/** Whether an answer's first sentence declines to answer (later sentences may hedge a real answer). */
export function isAbstention(answer: string): boolean {
  const first =
    answer
      .trim()
      .toLowerCase()
      .replaceAll("’", "'")
      .split(/(?<=[.!?])\s/)[0] ?? "";
  return ABSTENTION.some((pattern) => pattern.test(first));
}
