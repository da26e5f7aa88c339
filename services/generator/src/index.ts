/** @ragtune/generator: the generator service, its backends and its building blocks. */
export {
  ADAPTER_ID,
  AdapterArchiveError,
  type AdapterArchiveSource,
  createDirectoryArchiveSource,
  createObjectStoreArchiveSource,
} from "./backends/adapter-archives.js";
export {
  type AdapterDirectory,
  createAdapterDirectory,
  extractAdapterArchive,
  PEFT_CONFIG_FILE,
} from "./backends/adapter-directory.js";
export * from "./backends/backend.js";
export {
  createArchiveWeightsSource,
  createDirectoryWeightsSource,
  createExtractiveBackend,
  createObjectStoreWeightsSource,
  type ReaderWeightsSource,
} from "./backends/extractive-backend.js";
export { createLlamaCppBackend, type LlamaCppBackendOptions } from "./backends/llamacpp-backend.js";
export { createOpenAiBackend, type OpenAiBackendOptions } from "./backends/openai-backend.js";
export { generatorSettings } from "./config.js";
export { ADAPTER_FAILED_SUBJECT, ADAPTER_LOADED_SUBJECT, createNatsAdapterEvents } from "./events.js";
export { GeneratorServiceImpl, type GeneratorServiceOptions } from "./generator-service.js";
export { build, createBackends } from "./server.js";
export { fitPromptToWindow } from "./truncation.js";
