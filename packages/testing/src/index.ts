/** @ragtune/testing: test doubles and fixtures for tests and benchmarks (never used in production paths). */
export { isConnectError } from "./assertions.js";
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
export {
  type TinyLlamaShape,
  type TinyModelDir,
  tinyLlamaVocabulary,
  writeTinyLlamaGguf,
  writeTinyLoraGguf,
  writeTinyModelDir,
} from "./tiny-gguf.js";
