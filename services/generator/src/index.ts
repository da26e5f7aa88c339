/** @ragtune/generator: the generator service and its backends (shared libraries live under packages/). */
export {
  type AdapterDirectory,
  createAdapterDirectory,
  extractAdapterArchive,
  PEFT_CONFIG_FILE,
} from "./backends/adapter-directory.js";
export {
  createArchiveWeightsSource,
  createDirectoryWeightsSource,
  createExtractiveBackend,
  createObjectStoreWeightsSource,
  type ReaderWeightsSource,
} from "./backends/extractive-backend.js";
export { createOpenAiBackend, type OpenAiBackendOptions } from "./backends/openai-backend.js";
export { generatorSettings } from "./config.js";
export { ADAPTER_FAILED_SUBJECT, ADAPTER_LOADED_SUBJECT, createNatsAdapterEvents } from "./events.js";
export { GeneratorServiceImpl, type GeneratorServiceOptions } from "./generator-service.js";
export { build, createBackends } from "./server.js";
export { fitPromptToWindow } from "./truncation.js";
