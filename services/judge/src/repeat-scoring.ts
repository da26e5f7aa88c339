/**
 * Obtains the repeats of one answer on one criterion from a judge model. Each repeat needs one valid judge
 * output (N_SAMPLE: `samples` of them); outputs that fail strict parsing are asked for again, in at most
 * `maxAttempts` rounds, and a repeat still short after that is recorded as failed with the last error and raw
 * output, never given a score. In LOGPROB_WEIGHTED mode a score position with too little mass on the scale is
 * failed at once (asking again would read the same distribution). The repeat strategy decides whether repeats share a request (n choices) or
 * each make their own; requests are counted on the repeat they were made for. A backend that answers a request
 * for n choices with fewer ignores n (llama.cpp server, Ollama): the choices it did return are used, the rest are
 * asked for one request each, and the outcome says so; only a caller who named SHARED_REQUEST is refused instead.
 */
import { createHash } from "node:crypto";
import { RepeatStrategy, ScoringMode } from "@ragtune/contracts/judge";
import { failedPrecondition } from "@ragtune/runtime";
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
  /** The caller named the strategy: a backend found ignoring n fails the call (FAILED_PRECONDITION). */
  strategyExplicit?: boolean;
  /** Already known: this backend and model ignore n, so ask one choice per request from the start. */
  nIgnored?: string;
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
  /**
   * Called with each repeat the moment it has its score, before the others are done: what is kept then survives
   * this process being killed while the rest are asked for. Failed repeats come with the outcome only.
   */
  onScored?: (record: RepeatRecord) => void;
  /**
   * Seeds each request from this and the repeat and request it is for, so a request asked again (its answer lost
   * with a killed process) samples what it sampled the first time, where the backend honours `seed`.
   */
  seedBase?: string;
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

export interface RepeatsOutcome {
  records: RepeatRecord[];
  /** Set when the backend ignored n (found now or known before): why requests went one choice at a time. */
  nIgnored?: string;
}

export async function scoreRepeats(plan: RepeatScoringPlan, repeatIndices: readonly number[]): Promise<RepeatsOutcome> {
  const perRepeat = plan.mode === ScoringMode.N_SAMPLE ? plan.samples : 1;
  const states: RepeatState[] = repeatIndices.map((repeatIndex) => ({
    repeatIndex,
    valid: [],
    requests: 0,
    lastError: "",
    lastRaw: "",
  }));

  const scoreOnly = plan.mode === ScoringMode.LOGPROB_WEIGHTED;
  /** `state`'s request made last: its seed. Requests of a repeat are counted in the order they are made. */
  const seedOf = (state: RepeatState) =>
    plan.seedBase === undefined ? undefined : requestSeed(plan.seedBase, state.repeatIndex, state.requests);
  const request = async (n: number, seed: number | undefined): Promise<JudgeChoice[]> => {
    const completion = await plan.run(() => {
      // Checked again after waiting for a slot: a cancelled call must not start new requests.
      plan.signal?.throwIfAborted();
      // One already started is let finish (the client's own deadline bounds it) and its score is cached: the
      // caller's retry (a gateway restarted mid-batch) then reads it instead of paying again for new samples.
      return plan.backend.complete(
        {
          model: plan.model,
          messages: plan.messages,
          temperature: plan.temperature,
          maxTokens: scoreOnly ? SCORE_ONLY_MAX_TOKENS : FORM_MAX_TOKENS,
          n,
          topLogprobs: scoreOnly ? TOP_LOGPROBS : 0,
          constrainToForm: !scoreOnly,
          seed,
        },
        undefined,
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
      if (state.valid.length === perRepeat) plan.onScored?.(recordOf(state));
    } catch (error) {
      if (!(error instanceof JudgeOutputError)) throw error;
      state.lastError = error.message;
      state.lastRaw = choice.text;
      if (error instanceof LowScoreMassError) state.lowMass = error.mass;
    }
  };

  let nIgnored = plan.nIgnored;
  /** Shared requests asked for by name are refused, never switched, once the backend is known to ignore n. */
  const refuseIfAskedShared = () => {
    if (!nIgnored || !plan.strategyExplicit || plan.strategy !== RepeatStrategy.SHARED_REQUEST) return;
    throw failedPrecondition(
      `judge.repeat_strategy: REPEAT_STRATEGY_SHARED_REQUEST needs n, but ${nIgnored}; ` +
        "use REPEAT_STRATEGY_INDEPENDENT_CALLS, leave it unset, or set JUDGE_OPENAI_SUPPORTS_N=false",
    );
  };
  refuseIfAskedShared();
  /** A request for `asked` choices came back with `got`: from then on, one choice per request. */
  const noteChoices = (asked: number, got: number) => {
    if (got >= asked || nIgnored) return;
    nIgnored = `backend '${plan.backend.name}' returned ${got} choice${got === 1 ? "" : "s"} for n = ${asked} (it ignores n)`;
    refuseIfAskedShared();
  };

  /** Sizes of the requests that together ask for `count` choices. */
  const chunks = (count: number): number[] => {
    if (!plan.backend.supportsN || nIgnored) return Array.from({ length: count }, () => 1);
    const out: number[] = [];
    for (let left = count; left > 0; left -= plan.backend.maxN) out.push(Math.min(left, plan.backend.maxN));
    return out;
  };

  /** Asks `count` choices for one repeat in its own requests. */
  const requestOwn = async (state: RepeatState, count: number) => {
    await Promise.all(
      chunks(count).map(async (size) => {
        state.requests++;
        const choices = await request(size, seedOf(state));
        noteChoices(size, choices.length);
        // Short of choices only when n is ignored (else noteChoices threw or there are enough): ask the rest singly.
        const got = nIgnored ? Math.min(size, Math.max(choices.length, 1)) : size;
        for (let i = 0; i < got; i++) accept(state, choices[i]);
        if (got < size) await requestOwn(state, size - got);
      }),
    );
  };

  for (let attempt = 0; attempt < plan.maxAttempts; attempt++) {
    const needing = states.filter((s) => s.valid.length < perRepeat && s.lowMass === undefined);
    if (needing.length === 0) break;
    if (plan.strategy === RepeatStrategy.SHARED_REQUEST && !nIgnored) {
      // One slot list across repeats; each request's choices fill slots in order, charged to the first.
      const slots = needing.flatMap((s) => Array.from({ length: perRepeat - s.valid.length }, () => s));
      let start = 0;
      const batches = chunks(slots.length).map((size) => {
        const mine = slots.slice(start, start + size);
        start += size;
        return mine;
      });
      const unserved: RepeatState[] = [];
      await Promise.all(
        batches.map(async (mine) => {
          mine[0].requests++;
          const choices = await request(mine.length, seedOf(mine[0]));
          noteChoices(mine.length, choices.length);
          mine.forEach((state, i) => {
            if (choices[i] || !nIgnored) accept(state, choices[i]);
            else unserved.push(state);
          });
        }),
      );
      // Slots a backend ignoring n left empty are asked for now, one request each, not as a failed attempt.
      await Promise.all(unserved.map((state) => requestOwn(state, 1)));
    } else {
      await Promise.all(needing.map((state) => requestOwn(state, perRepeat - state.valid.length)));
    }
  }

  return { records: states.map(recordOf), nIgnored };

  function recordOf(state: RepeatState): RepeatRecord {
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
  }
}

/** A 31-bit seed from the answer's identity, the repeat and its request number (OpenAI and vLLM take int seeds). */
export function requestSeed(seedBase: string, repeatIndex: number, request: number): number {
  const digest = createHash("sha256").update(`${seedBase}\n${repeatIndex}\n${request}`).digest();
  return digest.readUInt32BE(0) & 0x7fffffff;
}
