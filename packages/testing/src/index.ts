/** @ragtune/testing: test doubles and fixtures for tests and benchmarks (never used in production paths). */
export { isConnectError } from "./assertions.js";
export type {
  FakeFineTuningApi,
  FakeFineTuningEvent,
  FakeFineTuningJob,
  FakeFineTuningOptions,
  FakeUploadedFile,
} from "./fake-fine-tuning.js";
export {
  defaultResponder,
  type FakeGenerationInput,
  type FakeGenerationOutput,
  type FakeModel,
  type FakeOpenAiServer,
  type FakeOpenAiServerOptions,
  type FakeResponder,
  type PacedCall,
  type RecordedRequest,
  startFakeOpenAiServer,
} from "./fake-openai-server.js";
export { createPlantedEffect, type PlantedEffect, type PlantedItem, type PlantedRun } from "./planted-effect.js";
export {
  type TinyLlamaShape,
  type TinyModelDir,
  tinyLlamaVocabulary,
  writeTinyLlamaGguf,
  writeTinyLoraGguf,
  writeTinyModelDir,
} from "./tiny-gguf.js";
