/**
 * G-Eval's logprob-weighted score, read from the answer to a form that asks for the score alone: the first
 * generated token that is not whitespace is the score position, and its top logprobs are the judge's
 * distribution over the scale. score = Σ p(s)·s / Σ p(s) over the scale values among them (so a distribution
 * with 0.6 on "4" and 0.3 on "3" scores 3.67, not 2.7). When those values hold less than `minMass` of the
 * probability the judge did not really answer with a score (it meant to write words, or another scale), and
 * normalising would guess one: that is a LowScoreMassError, recorded as a failed repeat with its mass.
 */
import { SCALE_MAX, SCALE_MIN } from "./criteria.js";
import type { TokenLogprob } from "./judge-backend.js";
import { JudgeOutputError } from "./output-parsing.js";

export interface WeightedScore {
  score: number;
  /** Probability mass of the scale values among the top logprobs, 0..1. */
  mass: number;
}

/**
 * The scale values hold too little probability to be read as a score. Not retried: the distribution at the
 * score position is the same for every request of the same prompt.
 */
export class LowScoreMassError extends JudgeOutputError {
  constructor(
    readonly mass: number,
    readonly minMass: number,
    alternatives: number,
  ) {
    super(
      `probability mass on the scale values ${SCALE_MIN}..${SCALE_MAX} among the score token's top ${alternatives} ` +
        `logprobs is ${mass.toFixed(3)}, below the minimum ${minMass} (JUDGE_MIN_SCORE_MASS); not scored`,
    );
    this.name = "LowScoreMassError";
  }
}

const SCORE_TOKEN = /^[\s:*]*(\d+)[\s*.]*$/;

function scaleValue(token: string): number | undefined {
  const match = SCORE_TOKEN.exec(token);
  if (!match) return undefined;
  const value = Number(match[1]);
  return value >= SCALE_MIN && value <= SCALE_MAX ? value : undefined;
}

export function logprobWeightedScore(tokens: readonly TokenLogprob[] | undefined, minMass: number): WeightedScore {
  if (!tokens || tokens.length === 0) throw new JudgeOutputError("no logprobs returned for the score token");
  const position = tokens.find((t) => t.token.trim() !== "");
  if (!position) throw new JudgeOutputError("the output has no score token");
  if (position.top.length === 0) throw new JudgeOutputError("no top logprobs for the score token");
  let mass = 0;
  let weighted = 0;
  for (const alternative of position.top) {
    const value = scaleValue(alternative.token);
    // " 4" and "4" are distinct tokens with the same value: both count.
    if (value === undefined) continue;
    const p = Math.exp(alternative.logprob);
    mass += p;
    weighted += p * value;
  }
  const reported = Math.min(1, mass);
  if (mass === 0 || reported < minMass) throw new LowScoreMassError(reported, minMass, position.top.length);
  return { score: weighted / mass, mass: reported };
}
