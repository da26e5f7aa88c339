/** @ragtune/generator/testing: test doubles and fixtures for tests and benchmarks (never used in production paths). */
export {
  defaultResponder,
  type FakeGenerationInput,
  type FakeGenerationOutput,
  type FakeModel,
  type FakeOpenAiServer,
  type FakeOpenAiServerOptions,
  type FakeResponder,
  type RecordedRequest,
  startFakeOpenAiServer,
} from "./fake-openai-server.js";
export { type TinyLlamaShape, tinyLlamaVocabulary, writeTinyLlamaGguf, writeTinyLoraGguf } from "./tiny-gguf.js";
