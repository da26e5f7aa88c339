import { extractCandidates, type ReaderContext, type SentenceCandidate } from "./features.js";
import { type ReaderWeights, weightVector } from "./weights.js";

export interface ScoredSentence {
  text: string;
  contextIndex: number;
  sentenceIndex: number;
  /** Linear score w·x + b. */
  score: number;
  /** sigmoid(score): the reader's belief that the sentence answers the question. */
  probability: number;
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export function linearScore(features: Float64Array, vector: Float64Array, bias: number): number {
  let z = bias;
  for (let i = 0; i < features.length; i++) z += features[i] * vector[i];
  return z;
}

function scoreCandidates(weights: ReaderWeights, candidates: SentenceCandidate[]): ScoredSentence[] {
  const vector = weightVector(weights);
  return candidates.map((c) => {
    const score = linearScore(c.features, vector, weights.bias);
    return {
      text: c.text,
      contextIndex: c.contextIndex,
      sentenceIndex: c.sentenceIndex,
      score,
      probability: sigmoid(score),
    };
  });
}

/** Every sentence of the contexts, best first (ties keep document order). */
export function scoreSentences(
  weights: ReaderWeights,
  question: string,
  contexts: readonly ReaderContext[],
): ScoredSentence[] {
  return scoreCandidates(weights, extractCandidates(question, contexts)).sort((a, b) => b.score - a.score);
}

export interface ReaderAnswer {
  /** The selected sentences in document order, joined by a space; empty when the contexts hold no sentence. */
  answer: string;
  /** The selected sentences, best first. */
  selected: ScoredSentence[];
  /** Sentences read. */
  sentencesRead: number;
  /** "stop", or "no_context" when there was nothing to read. */
  finishReason: "stop" | "no_context";
}

/** The extractive reader: the best sentence, plus up to maxSentences-1 more above the probability threshold. */
export function answerWithReader(
  weights: ReaderWeights,
  question: string,
  contexts: readonly ReaderContext[],
): ReaderAnswer {
  const ranked = scoreSentences(weights, question, contexts);
  if (ranked.length === 0) return { answer: "", selected: [], sentencesRead: 0, finishReason: "no_context" };
  const { maxSentences, minProbability } = weights.selection;
  const selected = [ranked[0], ...ranked.slice(1).filter((s) => s.probability >= minProbability)].slice(
    0,
    maxSentences,
  );
  const inDocumentOrder = [...selected].sort(
    (a, b) => a.contextIndex - b.contextIndex || a.sentenceIndex - b.sentenceIndex,
  );
  return {
    answer: inDocumentOrder.map((s) => s.text).join(" "),
    selected,
    sentencesRead: ranked.length,
    finishReason: "stop",
  };
}
