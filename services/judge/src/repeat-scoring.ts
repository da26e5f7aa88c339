/**
 * Obtains the repeats of one answer on one criterion from a judge model. Each repeat needs one valid judge
 * output (N_SAMPLE: `samples` of them); outputs that fail strict parsing are asked for again, in at most
 * `maxAttempts` rounds, and a repeat still short after that is recorded as failed with the last error and raw
 * output, never given a score. In LOGPROB_WEIGHTED mode a score position with too little mass on the scale is
 * failed at once (asking again would read the same distribution). The repeat strategy decides whether repeats share a request (n choices) or
 * each make their own; requests are counted on the repeat they were made for.
 */
import { RepeatStrategy, ScoringMode } from "@ragtune/contracts/judge";
import type { JudgeBackend, JudgeChoice, JudgeModel } from "./judge-backend.js";
import { LowScoreMassError, logprobWeightedScore } from "./logprob-weighting.js";
import { JudgeOutputError, parseFormOutput } from "./output-parsing.js";
import type { ChatMessage } from "@ragtune/llm";

/** One repeat as recorded (and cached). */
export interface RepeatRecord {
  repeatIndex: number;
  /** 1..5; 0 when failed. */
  score: number;
  rationale: string;
  rawOutput: string;
  failed: boolean;
  error: string;
  requests: number;
  scoreMass: number;
  samples: number[];
}

export interface RepeatScoringPlan {
  backend: JudgeBackend;
  model: JudgeModel;
  mode: ScoringMode.LOGPROB_WEIGHTED | ScoringMode.N_SAMPLE | ScoringMode.SINGLE;
  strategy: RepeatStrategy.INDEPENDENT_CALLS | RepeatStrategy.SHARED_REQUEST;
  temperature: number;
  /** Samples per repeat (N_SAMPLE); 1 otherwise. */
  samples: number;
  messages: ChatMessage[];
  maxAttempts: number;
  /** LOGPROB_WEIGHTED: least probability mass on the scale values for a repeat to be scored. */
  minScoreMass: number;
  /** Runs one request under the concurrency limits that apply to it. */
  run: <T>(request: () => Promise<T>) => Promise<T>;
  /** Aborts outstanding and further requests (the RPC was cancelled or ran past its deadline). */
  signal?: AbortSignal;
  /** Called after each request, for spans and metrics. */
  onCompletion?: (info: { inputTokens: number; outputTokens: number; choices: number; model: string }) => void;
}

/** Top alternatives asked per token in LOGPROB_WEIGHTED mode: the 5 scale values plus spacing variants. */
export const TOP_LOGPROBS = 10;
export const FORM_MAX_TOKENS = 256;
/** The score-only form wants one integer; a few tokens leave room for leading whitespace. */
export const SCORE_ONLY_MAX_TOKENS = 4;

interface Valid {
  score: number;
  rationale: string;
  raw: string;
  mass: number;
}

interface RepeatState {
  repeatIndex: number;
  valid: Valid[];
  requests: number;
  lastError: string;
  lastRaw: string;
  /** Mass found at the score position of a LOGPROB_WEIGHTED repeat refused for too little of it. */
  lowMass?: number;
}

function readChoice(plan: RepeatScoringPlan, choice: JudgeChoice): Valid {
  if (plan.mode === ScoringMode.LOGPROB_WEIGHTED) {
    // The score-only form has no rationale: the evaluation steps are the chain of thought.
    const weighted = logprobWeightedScore(choice.logprobs, plan.minScoreMass);
    return { score: weighted.score, rationale: "", raw: choice.text, mass: weighted.mass };
  }
  const parsed = parseFormOutput(choice.text);
  return { score: parsed.score, rationale: parsed.rationale, raw: choice.text, mass: 0 };
}

export async function scoreRepeats(plan: RepeatScoringPlan, repeatIndices: readonly number[]): Promise<RepeatRecord[]> {
  const perRepeat = plan.mode === ScoringMode.N_SAMPLE ? plan.samples : 1;
  const states: RepeatState[] = repeatIndices.map((repeatIndex) => ({
    repeatIndex,
    valid: [],
    requests: 0,
    lastError: "",
    lastRaw: "",
  }));

  const scoreOnly = plan.mode === ScoringMode.LOGPROB_WEIGHTED;
  const request = async (n: number): Promise<JudgeChoice[]> => {
    const completion = await plan.run(() => {
      // Checked again after waiting for a slot: a cancelled call must not start new requests.
      plan.signal?.throwIfAborted();
      return plan.backend.complete(
        {
          model: plan.model,
          messages: plan.messages,
          temperature: plan.temperature,
          maxTokens: scoreOnly ? SCORE_ONLY_MAX_TOKENS : FORM_MAX_TOKENS,
          n,
          topLogprobs: scoreOnly ? TOP_LOGPROBS : 0,
          constrainToForm: !scoreOnly,
        },
        plan.signal,
      );
    });
    plan.onCompletion?.({
      inputTokens: completion.inputTokens,
      outputTokens: completion.outputTokens,
      choices: completion.choices.length,
      model: completion.model,
    });
    return completion.choices;
  };

  const accept = (state: RepeatState, choice: JudgeChoice | undefined) => {
    if (!choice) {
      state.lastError = "the backend returned fewer choices than asked for";
      return;
    }
    try {
      state.valid.push(readChoice(plan, choice));
    } catch (error) {
      if (!(error instanceof JudgeOutputError)) throw error;
      state.lastError = error.message;
      state.lastRaw = choice.text;
      if (error instanceof LowScoreMassError) state.lowMass = error.mass;
    }
  };

  /** Sizes of the requests that together ask for `count` choices. */
  const chunks = (count: number): number[] => {
    if (!plan.backend.supportsN) return Array.from({ length: count }, () => 1);
    const out: number[] = [];
    for (let left = count; left > 0; left -= plan.backend.maxN) out.push(Math.min(left, plan.backend.maxN));
    return out;
  };

  for (let attempt = 0; attempt < plan.maxAttempts; attempt++) {
    const needing = states.filter((s) => s.valid.length < perRepeat && s.lowMass === undefined);
    if (needing.length === 0) break;
    if (plan.strategy === RepeatStrategy.SHARED_REQUEST) {
      // One slot list across repeats; each request's choices fill slots in order, charged to the first.
      const slots = needing.flatMap((s) => Array.from({ length: perRepeat - s.valid.length }, () => s));
      let start = 0;
      const batches = chunks(slots.length).map((size) => {
        const mine = slots.slice(start, start + size);
        start += size;
        return mine;
      });
      await Promise.all(
        batches.map(async (mine) => {
          mine[0].requests++;
          const choices = await request(mine.length);
          mine.forEach((state, i) => {
            accept(state, choices[i]);
          });
        }),
      );
    } else {
      await Promise.all(
        needing.map(async (state) => {
          await Promise.all(
            chunks(perRepeat - state.valid.length).map(async (size) => {
              state.requests++;
              const choices = await request(size);
              for (let i = 0; i < size; i++) accept(state, choices[i]);
            }),
          );
        }),
      );
    }
  }

  return states.map((state) => {
    const base = { repeatIndex: state.repeatIndex, requests: state.requests };
    if (state.valid.length < perRepeat) {
      const got = perRepeat > 1 ? ` (${state.valid.length} of ${perRepeat} samples valid)` : "";
      return {
        ...base,
        score: 0,
        rationale: "",
        rawOutput: state.lastRaw,
        failed: true,
        error:
          state.lowMass === undefined
            ? `no valid score after ${plan.maxAttempts} attempts${got}: ${state.lastError}`
            : state.lastError,
        scoreMass: state.lowMass ?? 0,
        samples: [],
      };
    }
    const scores = state.valid.map((v) => v.score);
    return {
      ...base,
      score: scores.reduce((a, b) => a + b, 0) / scores.length,
      rationale: state.valid[0].rationale,
      rawOutput: state.valid.map((v) => v.raw).join("\n\n---\n\n"),
      failed: false,
      error: "",
      scoreMass: plan.mode === ScoringMode.LOGPROB_WEIGHTED ? state.valid[0].mass : 0,
      samples: plan.mode === ScoringMode.N_SAMPLE ? scores : [],
    };
  });
}
