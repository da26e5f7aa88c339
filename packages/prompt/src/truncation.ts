import type { PromptContext, RenderedRagPrompt } from "./render.js";
import { renderRagPrompt } from "./render.js";
import type { RagPromptTemplate } from "./templates.js";

export interface FitRagPromptInput {
  question: string;
  /** Best first. */
  contexts: readonly PromptContext[];
  template?: RagPromptTemplate;
  /** Tokens the prompt may take (the window less what the answer needs), unit {token}; undefined: no limit. */
  budget: number | undefined;
  /** The prompt's length as the model will see it: serving counts what it sends, training what it trains on. */
  countTokens: (prompt: RenderedRagPrompt) => Promise<number> | number;
  /** false: a prompt over the budget is reported, not cut. Default true. */
  allowTruncation?: boolean;
}

export type FitRagPromptResult =
  | {
      fits: true;
      prompt: RenderedRagPrompt;
      /** The contexts the prompt shows, best first: a prefix of those given, the last perhaps shortened. */
      contexts: PromptContext[];
      truncated: boolean;
      /** What was cut, for the record; empty when nothing was. */
      note: string;
    }
  /** "contexts": over the budget with truncation disabled; "question": even no context at all does not fit. */
  | { fits: false; field: "contexts" | "question"; needed: number };

/**
 * The one truncation rule of serving and fine-tuning, so a fine-tune sees long items as evaluation will:
 * the instructions and the question always stay, the lowest-ranked contexts go first, and only then is the
 * last remaining context shortened (at a word boundary, found by bisection over its length).
 */
export async function fitRagPrompt(input: FitRagPromptInput): Promise<FitRagPromptResult> {
  const render = (contexts: PromptContext[]) =>
    renderRagPrompt({ question: input.question, contexts, template: input.template });
  const given = [...input.contexts];
  const all = render(given);
  if (input.budget === undefined) return { fits: true, prompt: all, contexts: given, truncated: false, note: "" };
  const budget = input.budget;
  const fits = async (prompt: RenderedRagPrompt) => (await input.countTokens(prompt)) <= budget;
  if (await fits(all)) return { fits: true, prompt: all, contexts: given, truncated: false, note: "" };

  const needed = await input.countTokens(all);
  if (input.allowTruncation === false) return { fits: false, field: "contexts", needed };
  if (budget <= 0 || !(await fits(render([])))) return { fits: false, field: "question", needed };

  let kept = given.length;
  // Dropping from the end: contexts come best first, so the least relevant go first.
  while (kept > 1 && !(await fits(render(given.slice(0, kept))))) kept--;
  let contexts = given.slice(0, kept);
  const notes: string[] = [];
  if (kept < given.length)
    notes.push(
      kept + 1 === given.length
        ? `dropped context ${given.length} of ${given.length}`
        : `dropped contexts ${kept + 1}-${given.length} of ${given.length}`,
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
      notes.push(`dropped context ${kept} of ${given.length}`);
    } else {
      contexts = [...contexts.slice(0, -1), { ...last, text }];
      notes.push(`shortened context ${kept} to ${text.length} of ${last.text.length} characters`);
    }
  }
  return { fits: true, prompt: render(contexts), contexts, truncated: true, note: notes.join("; ") };
}

function cutAtWord(text: string, length: number): string {
  if (length >= text.length) return text;
  const cut = text.slice(0, length);
  const space = cut.lastIndexOf(" ");
  return space > length * 0.8 ? cut.slice(0, space) : cut;
}
