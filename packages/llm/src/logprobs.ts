import type { ChatCompletionChoice, CompletionChoice, TokenLogprob } from "./types.js";

/** Token log probabilities of a chat choice in one shape; empty when the server sent none. */
export function chatChoiceLogprobs(choice: ChatCompletionChoice): TokenLogprob[] {
  return (choice.logprobs?.content ?? []).map((entry) => ({
    token: entry.token,
    logprob: entry.logprob,
    top: (entry.top_logprobs ?? []).map((alt) => ({ token: alt.token, logprob: alt.logprob })),
  }));
}

/** Token log probabilities of a plain-completion choice (legacy layout) in the same shape. */
export function completionChoiceLogprobs(choice: CompletionChoice): TokenLogprob[] {
  const logprobs = choice.logprobs;
  if (!logprobs) return [];
  return logprobs.tokens.map((token, i) => ({
    token,
    logprob: logprobs.token_logprobs[i] ?? Number.NEGATIVE_INFINITY,
    top: Object.entries(logprobs.top_logprobs?.[i] ?? {})
      .map(([alt, logprob]) => ({ token: alt, logprob }))
      .sort((a, b) => b.logprob - a.logprob),
  }));
}
