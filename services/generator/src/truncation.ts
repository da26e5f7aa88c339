import { invalidArgument } from "@ragtune/runtime";
import { type PromptContext, type RagPromptTemplate, type RenderedRagPrompt, renderRagPrompt } from "@ragtune/prompt";

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

/**
 * Applies the truncation policy: drop the lowest-ranked contexts until the prompt plus max_tokens fits,
 * then shorten the last kept context (at a word boundary, found by bisection over its length).
 */
export async function fitPromptToWindow(input: FitPromptInput): Promise<FittedPrompt> {
  const render = (contexts: PromptContext[]) =>
    renderRagPrompt({ question: input.question, contexts, template: input.template });
  const all = render(input.contexts);
  if (input.window === undefined) return { prompt: all, contexts: input.contexts, truncated: false, note: "" };
  const budget = input.window - input.maxTokens;
  const fits = async (prompt: RenderedRagPrompt) => (await input.countTokens(prompt)) <= budget;
  if (await fits(all)) return { prompt: all, contexts: input.contexts, truncated: false, note: "" };

  const needed = await input.countTokens(all);
  if (!input.allowTruncation) {
    throw invalidArgument(
      "contexts",
      `the prompt needs ${needed} tokens plus max_tokens ${input.maxTokens}, over the model's window of ${input.window} tokens, and truncation is disabled`,
    );
  }
  if (budget <= 0 || !(await fits(render([])))) {
    throw invalidArgument(
      "question",
      `too long for the model's window of ${input.window} tokens with max_tokens ${input.maxTokens}`,
    );
  }

  const given = input.contexts.length;
  let kept = given;
  // Dropping from the end: contexts come best first, so the least relevant go first.
  while (kept > 1 && !(await fits(render(input.contexts.slice(0, kept))))) kept--;
  let contexts = input.contexts.slice(0, kept);
  const notes: string[] = [];
  if (kept < given)
    notes.push(
      kept + 1 === given ? `dropped context ${given} of ${given}` : `dropped contexts ${kept + 1}-${given} of ${given}`,
    );
  if (!(await fits(render(contexts)))) {
    const last = contexts[kept - 1];
    let low = 0;
    let high = last.text.length;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (await fits(render([...contexts.slice(0, -1), { ...last, text: cutAtWord(last.text, mid) }]))) low = mid;
      else high = mid - 1;
    }
    const text = cutAtWord(last.text, low);
    if (text.trim() === "") {
      contexts = contexts.slice(0, -1);
      notes.push(kept === 1 ? `dropped context 1 of ${given}` : `dropped context ${kept} of ${given}`);
    } else {
      contexts = [...contexts.slice(0, -1), { ...last, text }];
      notes.push(`shortened context ${kept} to ${text.length} of ${last.text.length} characters`);
    }
  }
  return { prompt: render(contexts), contexts, truncated: true, note: notes.join("; ") };
}

function cutAtWord(text: string, length: number): string {
  if (length >= text.length) return text;
  const cut = text.slice(0, length);
  const space = cut.lastIndexOf(" ");
  return space > length * 0.8 ? cut.slice(0, space) : cut;
}
