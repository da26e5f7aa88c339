/**
 * @ragtune/reader: the extractive reader. No LLM: it picks answer sentences from the context
 * chunks with a linear scorer over cheap features; `trainReader` fine-tunes that scorer on QA pairs
 * (the trainer's CPU executor runs it). Backend "extractive", model "extractive-reader".
 */
export {
  extractCandidates,
  FEATURE_NAMES,
  type FeatureName,
  type ReaderContext,
  type SentenceCandidate,
} from "./features.js";
export { answerWithReader, type ReaderAnswer, type ScoredSentence, scoreSentences, sigmoid } from "./reader.js";
export { contentTokens, splitSentences, wordTokens } from "./text.js";
export { evaluateReader, type ReaderTrainingPair, type TrainReaderOptions, trainReader } from "./train.js";
export {
  DEFAULT_READER_WEIGHTS,
  parseReaderWeights,
  READER_MODEL_NAME,
  READER_WEIGHTS_FORMAT,
  READER_WEIGHTS_VERSION,
  type ReaderSelection,
  type ReaderTrainingRecord,
  type ReaderWeights,
} from "./weights.js";
