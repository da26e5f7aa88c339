/**
 * G-Eval's logprob-weighted score: Σ p(s)·s over the scale values among the score token's top logprobs,
 * normalised by the probability mass those values cover (so an "Score: 4" answer whose token distribution
 * puts 0.6 on "4" and 0.3 on "3" scores 3.67, not 2.7).
 */
import { SCALE_MAX, SCALE_MIN } from "./criteria.js";
import type { TokenLogprob } from "./judge-backend.js";
import { JudgeOutputError } from "./output-parsing.js";

export interface WeightedScore {
  score: number;
  /** Probability mass of the scale values among the top logprobs, 0..1. */
  mass: number;
}

const SCORE_TOKEN = /^[\s:*]*(\d+)[\s*.]*$/;

function scaleValue(token: string): number | undefined {
  const match = SCORE_TOKEN.exec(token);
  if (!match) return undefined;
  const value = Number(match[1]);
  return value >= SCALE_MIN && value <= SCALE_MAX ? value : undefined;
}

/**
 * Finds the token that carries the score digit of the final "Score: N" line (by its character offset in the
 * concatenated tokens) and weights the scale values among its alternatives.
 */
export function logprobWeightedScore(text: string, tokens: readonly TokenLogprob[] | undefined): WeightedScore {
  if (!tokens || tokens.length === 0) throw new JudgeOutputError("no logprobs returned for the score token");
  const joined = tokens.map((t) => t.token).join("");
  const match = /score\s*\**\s*:\s*\**\s*(\d+)[\s*]*$/i.exec(joined.trimEnd());
  if (!match) {
    // Tokens that do not spell the text mean the backend dropped or merged some; refuse rather than guess.
    throw new JudgeOutputError(
      joined.trim() === text.trim() ? 'last line is not "Score: N"' : "logprob tokens do not match the text",
    );
  }
  const digitOffset = match.index + match[0].indexOf(match[1], match[0].indexOf(":"));
  let offset = 0;
  for (const token of tokens) {
    const end = offset + token.token.length;
    if (digitOffset >= offset && digitOffset < end) {
      if (scaleValue(token.token) === undefined) {
        throw new JudgeOutputError(`score token ${JSON.stringify(token.token)} is not a lone scale value`);
      }
      let mass = 0;
      let weighted = 0;
      if (token.top.length === 0) throw new JudgeOutputError("no top logprobs for the score token");
      for (const alternative of token.top) {
        const value = scaleValue(alternative.token);
        // " 4" and "4" are distinct tokens with the same value: both count.
        if (value === undefined) continue;
        const p = Math.exp(alternative.logprob);
        mass += p;
        weighted += p * value;
      }
      if (mass === 0) throw new JudgeOutputError("no scale value among the score token's top logprobs");
      return { score: weighted / mass, mass: Math.min(1, mass) };
    }
    offset = end;
  }
  throw new JudgeOutputError("score token not found among the logprobs");
}
