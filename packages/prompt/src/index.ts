/** @ragtune/prompt: versioned RAG prompt templates, shared with the trainer so training data matches serving. */
export type { ChatMessage } from "@ragtune/llm";
export {
  chatMessagesForModel,
  type PromptContext,
  type RagTrainingExample,
  type RenderedRagPrompt,
  type RenderRagPromptInput,
  renderContexts,
  renderRagPrompt,
  renderRagTrainingExample,
} from "./render.js";
export {
  createTemplateRegistry,
  DEFAULT_TEMPLATE_ID,
  RAG_COMPACT_TEMPLATE,
  RAG_DEFAULT_TEMPLATE,
  type RagPromptTemplate,
  type TemplateRegistry,
  templateHash,
} from "./templates.js";
export { type FitRagPromptInput, type FitRagPromptResult, fitRagPrompt } from "./truncation.js";
