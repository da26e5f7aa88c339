import { FEATURE_NAMES, type FeatureName } from "./features.js";

export const READER_WEIGHTS_FORMAT = "ragtune.extractive-reader";
export const READER_WEIGHTS_VERSION = 1;
/** The reader's model name in every output, so nobody mistakes it for an LLM. */
export const READER_MODEL_NAME = "extractive-reader";

/** How sentences become an answer. */
export interface ReaderSelection {
  /** Most sentences in an answer. Default 1. */
  maxSentences: number;
  /** Sentences after the best one need at least this probability, 0..1. Default 0.5. */
  minProbability: number;
}

/** What a training run recorded about itself. */
export interface ReaderTrainingRecord {
  pairs: number;
  /** Pairs skipped: no context sentence overlaps the gold answer. */
  pairsSkipped: number;
  examples: number;
  positives: number;
  epochs: number;
  learningRate: number;
  l2: number;
  seed: number;
  /** Mean log loss over the training sentences after the last epoch. */
  finalLoss: number;
  /** Share of training pairs whose best-scored sentence is a gold sentence, before and after training. */
  top1AccuracyBefore: number;
  top1AccuracyAfter: number;
  /** Same on the validation pairs, when given. */
  validationTop1Accuracy?: number;
}

/** The weights file (JSON): versioned, features named so an older file still loads if features are added. */
export interface ReaderWeights {
  format: typeof READER_WEIGHTS_FORMAT;
  version: typeof READER_WEIGHTS_VERSION;
  /** Feature name → weight; a feature missing here weighs 0. */
  weights: Partial<Record<FeatureName, number>>;
  bias: number;
  selection: ReaderSelection;
  /** Absent for the hand-set defaults. */
  training?: ReaderTrainingRecord;
}

/** Hand-set starting point: question overlap (IDF-weighted most), rank of the chunk, answer-type cues. */
export const DEFAULT_READER_WEIGHTS: ReaderWeights = {
  format: READER_WEIGHTS_FORMAT,
  version: READER_WEIGHTS_VERSION,
  weights: {
    overlap: 1.5,
    idf_overlap: 3,
    bm25: 1,
    bigram_overlap: 1,
    chunk_rank: 1,
    position: 0.3,
    length: 0.5,
    short: -1.5,
    novelty: 1.5,
    cue_number: 2,
    cue_date: 2,
    cue_entity: 1,
    cue_yes_no: 0,
    // Answers often follow the sentence that restates the question ("X is ... . It was opened in 1932.").
    previous_overlap: 1.5,
  },
  bias: -3.5,
  selection: { maxSentences: 1, minProbability: 0.5 },
};

/** Weights in feature order, for the scorer's inner loop. */
export function weightVector(weights: ReaderWeights): Float64Array {
  return Float64Array.from(FEATURE_NAMES, (name) => weights.weights[name] ?? 0);
}

export function weightsFromVector(vector: ArrayLike<number>): Partial<Record<FeatureName, number>> {
  return Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, vector[i]]));
}

/** Validates a parsed weights file; throws an Error naming the offending field. */
export function parseReaderWeights(value: unknown): ReaderWeights {
  const fail = (field: string, reason: string): never => {
    throw new Error(`reader weights ${field}: ${reason}`);
  };
  if (typeof value !== "object" || value === null) return fail("(root)", "must be an object");
  const v = value as Record<string, unknown>;
  if (v.format !== READER_WEIGHTS_FORMAT) fail("format", `must be "${READER_WEIGHTS_FORMAT}"`);
  if (v.version !== READER_WEIGHTS_VERSION)
    fail("version", `must be ${READER_WEIGHTS_VERSION}, got ${String(v.version)}`);
  if (typeof v.weights !== "object" || v.weights === null) fail("weights", "must be an object");
  const weights: Partial<Record<FeatureName, number>> = {};
  for (const [name, weight] of Object.entries(v.weights as Record<string, unknown>)) {
    if (!(FEATURE_NAMES as readonly string[]).includes(name)) fail(`weights.${name}`, "unknown feature");
    if (typeof weight !== "number" || !Number.isFinite(weight)) fail(`weights.${name}`, "must be a finite number");
    weights[name as FeatureName] = weight as number;
  }
  if (typeof v.bias !== "number" || !Number.isFinite(v.bias)) fail("bias", "must be a finite number");
  const selection = (v.selection ?? {}) as Record<string, unknown>;
  const maxSentences = selection.maxSentences ?? 1;
  const minProbability = selection.minProbability ?? 0.5;
  if (typeof maxSentences !== "number" || !Number.isInteger(maxSentences) || maxSentences < 1 || maxSentences > 20) {
    fail("selection.maxSentences", "must be an integer 1..20");
  }
  if (typeof minProbability !== "number" || minProbability < 0 || minProbability > 1) {
    fail("selection.minProbability", "must be 0..1");
  }
  return {
    format: READER_WEIGHTS_FORMAT,
    version: READER_WEIGHTS_VERSION,
    weights,
    bias: v.bias as number,
    selection: { maxSentences: maxSentences as number, minProbability: minProbability as number },
    ...(v.training ? { training: v.training as ReaderTrainingRecord } : {}),
  };
}
