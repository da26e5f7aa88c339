import { invalidArgument } from "@ragtune/runtime";
import { fitRagPrompt, type PromptContext, type RagPromptTemplate, type RenderedRagPrompt } from "@ragtune/prompt";

export interface FitPromptInput {
  question: string;
  /** Best first. */
  contexts: PromptContext[];
  template: RagPromptTemplate;
  /** Context window, unit {token}; undefined: no limit. */
  window: number | undefined;
  /** Tokens reserved for the answer. */
  maxTokens: number;
  countTokens: (prompt: RenderedRagPrompt) => Promise<number>;
  /** false: INVALID_ARGUMENT instead of truncating. */
  allowTruncation: boolean;
}

export interface FittedPrompt {
  prompt: RenderedRagPrompt;
  contexts: PromptContext[];
  truncated: boolean;
  /** What was cut, for the record; empty when nothing was. */
  note: string;
}

/** The shared truncation rule of @ragtune/prompt (the trainer fits fine-tuning prompts with it too) against the model's window. */
export async function fitPromptToWindow(input: FitPromptInput): Promise<FittedPrompt> {
  const fitted = await fitRagPrompt({
    question: input.question,
    contexts: input.contexts,
    template: input.template,
    budget: input.window === undefined ? undefined : input.window - input.maxTokens,
    countTokens: input.countTokens,
    allowTruncation: input.allowTruncation,
  });
  if (fitted.fits) return fitted;
  if (fitted.field === "contexts") {
    throw invalidArgument(
      "contexts",
      `the prompt needs ${fitted.needed} tokens plus max_tokens ${input.maxTokens}, over the model's window of ${input.window} tokens, and truncation is disabled`,
    );
  }
  throw invalidArgument(
    "question",
    `too long for the model's window of ${input.window} tokens with max_tokens ${input.maxTokens}`,
  );
}
