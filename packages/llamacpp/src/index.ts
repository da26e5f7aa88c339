/**
 * @ragtune/llamacpp: the in-process llama.cpp backend (GGUF base models and LoRA adapters, grammar-constrained
 * output) that the generator serves with and the judge scores with, and the GenerationBackend interface it
 * implements (the generator's other backends implement it too).
 */
export * from "./generation-backend.js";
export { createLlamaCppBackend, type LlamaCppBackendOptions, type LlamaCppModelSpec } from "./llamacpp-backend.js";
export { downloadModelFile, type ModelDownloadOptions } from "./model-download.js";
