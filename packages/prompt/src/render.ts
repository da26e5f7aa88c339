import type { ChatMessage } from "@ragtune/llm";
import { RAG_DEFAULT_TEMPLATE, type RagPromptTemplate, templateHash } from "./templates.js";

export interface PromptContext {
  text: string;
  /** Shown to the model as the chunk's source; empty shows "unknown". */
  sourceId?: string;
}

export interface RenderedRagPrompt {
  templateId: string;
  templateHash: string;
  /** Empty when the template has no system part. */
  system: string;
  user: string;
  /** Messages for chat APIs that apply the model's own chat template. */
  messages: ChatMessage[];
  /** One text for plain completion APIs (no chat template): system, blank line, user. */
  completionPrompt: string;
}

export interface RenderRagPromptInput {
  question: string;
  contexts: readonly PromptContext[];
  template?: RagPromptTemplate;
}

/** Placeholders are replaced in one pass, so text that itself contains "{{question}}" stays as written. */
function fill(text: string, values: Record<string, string>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => values[name] ?? whole);
}

export function renderContexts(template: RagPromptTemplate, contexts: readonly PromptContext[]): string {
  return contexts
    .map((context, i) =>
      fill(template.context, {
        index: String(i + 1),
        source: context.sourceId || "unknown",
        text: context.text.trim(),
      }),
    )
    .join(template.contextSeparator);
}

/** The RAG prompt exactly as the generator sends it; the trainer formats fine-tuning data with the same function. */
export function renderRagPrompt(input: RenderRagPromptInput): RenderedRagPrompt {
  const template = input.template ?? RAG_DEFAULT_TEMPLATE;
  const values = { contexts: renderContexts(template, input.contexts), question: input.question.trim() };
  const system = fill(template.system, values);
  const user = fill(template.user, values);
  const messages: ChatMessage[] = system
    ? [
        { role: "system", content: system },
        { role: "user", content: user },
      ]
    : [{ role: "user", content: user }];
  return {
    templateId: template.id,
    templateHash: templateHash(template),
    system,
    user,
    messages,
    completionPrompt: system ? `${system}\n\n${user}` : user,
  };
}

/** A fine-tuning example in the layouts trainers take: chat messages with the answer, or prompt/completion text. */
export interface RagTrainingExample {
  messages: ChatMessage[];
  prompt: string;
  completion: string;
  templateId: string;
  templateHash: string;
}

export function renderRagTrainingExample(input: RenderRagPromptInput & { answer: string }): RagTrainingExample {
  const rendered = renderRagPrompt(input);
  const answer = input.answer.trim();
  return {
    messages: [...rendered.messages, { role: "assistant", content: answer }],
    prompt: rendered.completionPrompt,
    // A leading space: the answer continues the "Answer:" line the prompt ends with.
    completion: ` ${answer}`,
    templateId: rendered.templateId,
    templateHash: rendered.templateHash,
  };
}

/**
 * Model families whose chat templates reject a system role (Mistral Instruct v0.1/v0.2, Gemma 1/2 raise
 * "roles must alternate user/assistant"): their system text is folded into the user message.
 */
const NO_SYSTEM_ROLE = [/mistral-7b-instruct-v0\.[12]/i, /mixtral-8x7b-instruct-v0\.1/i, /gemma-(1\.1-|2-)?\d+b/i];

export function chatMessagesForModel(model: string, rendered: RenderedRagPrompt): ChatMessage[] {
  if (!rendered.system || !NO_SYSTEM_ROLE.some((pattern) => pattern.test(model))) return rendered.messages;
  return [{ role: "user", content: `${rendered.system}\n\n${rendered.user}` }];
}
