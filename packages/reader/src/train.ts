import { seededRandom } from "@ragtune/runtime";
import { extractCandidates, type ReaderContext, type SentenceCandidate } from "./features.js";
import { linearScore, sigmoid } from "./reader.js";
import { contentTokens, wordTokens } from "./text.js";
import {
  DEFAULT_READER_WEIGHTS,
  READER_WEIGHTS_FORMAT,
  READER_WEIGHTS_VERSION,
  type ReaderSelection,
  type ReaderWeights,
  weightVector,
  weightsFromVector,
} from "./weights.js";

/** One QA pair with the text the reader reads for it (retrieved chunks or the gold passage). */
export interface ReaderTrainingPair {
  question: string;
  /** Acceptable answers; any of them counts. */
  answers: readonly string[];
  contexts: ReadonlyArray<string | ReaderContext>;
}

export interface TrainReaderOptions {
  /** Passes over the training sentences. Default 10. */
  epochs?: number;
  /** SGD step size, decayed as lr / (1 + 0.5·epoch). Default 0.1. */
  learningRate?: number;
  /** L2 penalty on the feature weights (not the bias). Default 1e-4. */
  l2?: number;
  /** Seeds the shuffling; same seed and data, same weights. Default 1. */
  seed?: number;
  /** Weights to start from (fine-tuning); default the hand-set defaults. */
  initial?: ReaderWeights;
  /** A sentence is gold when it contains an answer or holds this share of its content words. Default 0.6. */
  positiveRecall?: number;
  /** Selection rule written into the result; default the initial weights'. */
  selection?: ReaderSelection;
  /** Held-out pairs to report top-1 accuracy on. */
  validation?: readonly ReaderTrainingPair[];
  /** Progress after each epoch. */
  onEpoch?: (progress: { epoch: number; epochs: number; loss: number }) => void;
}

interface LabelledPair {
  candidates: SentenceCandidate[];
  labels: Uint8Array;
}

function normalise(text: string): string {
  return wordTokens(text).join(" ");
}

/** Marks the sentences that carry a gold answer; undefined when none does (the pair teaches nothing). */
function labelPair(pair: ReaderTrainingPair, positiveRecall: number): LabelledPair | undefined {
  const contexts = pair.contexts.map((c) => (typeof c === "string" ? { text: c } : c));
  const candidates = extractCandidates(pair.question, contexts);
  if (candidates.length === 0) return undefined;
  const answers = pair.answers
    .map((a) => ({ text: normalise(a), terms: [...new Set(contentTokens(a))] }))
    .filter((a) => a.text);
  if (answers.length === 0) return undefined;
  const recalls = candidates.map((c) => {
    const sentence = normalise(c.text);
    const terms = new Set(contentTokens(c.text));
    let best = 0;
    for (const answer of answers) {
      if (` ${sentence} `.includes(` ${answer.text} `)) return 1;
      if (answer.terms.length > 0)
        best = Math.max(best, answer.terms.filter((t) => terms.has(t)).length / answer.terms.length);
    }
    return best;
  });
  const labels = Uint8Array.from(recalls, (r) => (r >= positiveRecall ? 1 : 0));
  if (!labels.includes(1)) {
    // Long free-form answers rarely sit in one sentence: the closest sentence is gold if it is close enough.
    const best = recalls.indexOf(Math.max(...recalls));
    if (recalls[best] < 0.34) return undefined;
    labels[best] = 1;
  }
  return { candidates, labels };
}

function top1Accuracy(pairs: readonly LabelledPair[], vector: Float64Array, bias: number): number {
  if (pairs.length === 0) return 0;
  let hits = 0;
  for (const pair of pairs) {
    let bestAt = 0;
    let bestScore = Number.NEGATIVE_INFINITY;
    pair.candidates.forEach((c, i) => {
      const score = linearScore(c.features, vector, bias);
      if (score > bestScore) {
        bestScore = score;
        bestAt = i;
      }
    });
    hits += pair.labels[bestAt];
  }
  return hits / pairs.length;
}

/**
 * Fine-tunes the reader's linear scorer on QA pairs: class-weighted logistic regression by SGD over
 * every context sentence, gold = the sentences that carry an answer. Deterministic for a seed.
 */
export function trainReader(pairs: readonly ReaderTrainingPair[], options: TrainReaderOptions = {}): ReaderWeights {
  const epochs = options.epochs ?? 10;
  const learningRate = options.learningRate ?? 0.1;
  const l2 = options.l2 ?? 1e-4;
  const seed = options.seed ?? 1;
  const initial = options.initial ?? DEFAULT_READER_WEIGHTS;
  const positiveRecall = options.positiveRecall ?? 0.6;
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError("epochs must be an integer >= 1");
  if (!(learningRate > 0)) throw new RangeError("learningRate must be > 0");

  const labelled: LabelledPair[] = [];
  for (const pair of pairs) {
    const l = labelPair(pair, positiveRecall);
    if (l) labelled.push(l);
  }
  const validation = (options.validation ?? []).map((p) => labelPair(p, positiveRecall)).filter((p) => p !== undefined);

  const examples: Array<{ x: Float64Array; y: number }> = [];
  for (const pair of labelled) {
    pair.candidates.forEach((c, i) => {
      examples.push({ x: c.features, y: pair.labels[i] });
    });
  }
  const positives = examples.filter((e) => e.y === 1).length;
  // Gold sentences are few; weighting them up keeps the scorer from learning "nothing is an answer".
  const positiveWeight = positives === 0 ? 1 : Math.min(20, (examples.length - positives) / positives);

  const w = weightVector(initial);
  let bias = initial.bias;
  const before = top1Accuracy(labelled, w, bias);
  const random = seededRandom(seed);
  const order = examples.map((_, i) => i);
  let loss = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const lr = learningRate / (1 + 0.5 * epoch);
    for (const index of order) {
      const { x, y } = examples[index];
      const p = sigmoid(linearScore(x, w, bias));
      const g = (y === 1 ? positiveWeight : 1) * (p - y);
      for (let k = 0; k < w.length; k++) w[k] -= lr * (g * x[k] + l2 * w[k]);
      bias -= lr * g;
    }
    loss = 0;
    for (const { x, y } of examples) {
      const p = Math.min(1 - 1e-12, Math.max(1e-12, sigmoid(linearScore(x, w, bias))));
      loss -= y === 1 ? Math.log(p) : Math.log(1 - p);
    }
    loss /= examples.length || 1;
    options.onEpoch?.({ epoch: epoch + 1, epochs, loss });
  }

  return {
    format: READER_WEIGHTS_FORMAT,
    version: READER_WEIGHTS_VERSION,
    weights: weightsFromVector(w),
    bias,
    selection: options.selection ?? initial.selection,
    training: {
      pairs: labelled.length,
      pairsSkipped: pairs.length - labelled.length,
      examples: examples.length,
      positives,
      epochs,
      learningRate,
      l2,
      seed,
      finalLoss: loss,
      top1AccuracyBefore: before,
      top1AccuracyAfter: top1Accuracy(labelled, w, bias),
      ...(validation.length > 0 ? { validationTop1Accuracy: top1Accuracy(validation, w, bias) } : {}),
    },
  };
}

/** Top-1 accuracy of some weights on labelled pairs: how often the best sentence carries an answer. */
export function evaluateReader(
  weights: ReaderWeights,
  pairs: readonly ReaderTrainingPair[],
  options: { positiveRecall?: number } = {},
): { pairs: number; top1Accuracy: number } {
  const labelled = pairs.map((p) => labelPair(p, options.positiveRecall ?? 0.6)).filter((p) => p !== undefined);
  return { pairs: labelled.length, top1Accuracy: top1Accuracy(labelled, weightVector(weights), weights.bias) };
}
