/** @ragtune/judge: G-Eval scoring with repeats, spread and reliability, and the reference-based scorer. */
export { createOpenAiJudgeBackend, type OpenAiJudgeBackendOptions } from "./backends/openai-backend.js";
export { createTracedBackend } from "./backends/traced-backend.js";
export { buildReliabilityReport } from "./reliability.js";
export * from "./criteria.js";
export { createEvaluationSteps, type FrozenSteps, StepsGenerationError } from "./evaluation-steps.js";
export type * from "./judge-backend.js";
export { createJudgeEngine, type JudgeEngine, type JudgeEngineOptions } from "./judge-engine.js";
export { BATCH_SCORED_SUBJECT, createNatsJudgeEvents, type JudgeEvents, JudgeServiceImpl } from "./judge-service.js";
export { logprobWeightedScore } from "./logprob-weighting.js";
export { JudgeOutputError, parseEvaluationSteps, parseFormOutput } from "./output-parsing.js";
export { FORM_PROMPT_HASH, STEPS_PROMPT_HASH } from "./prompts.js";
export { REFERENCE_SCORER_NAME, scoreAgainstReference } from "./reference-scorer.js";
export type { RepeatRecord } from "./repeat-scoring.js";
export * from "./statistics.js";
export { createMemoryStore, type JsonStore } from "./stores/blob-store.js";
export { createFileStore } from "./stores/file-store.js";
export { createNatsKvStore } from "./stores/nats-kv-store.js";
