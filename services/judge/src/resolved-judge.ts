/**
 * A request's JudgeConfig turned into what scoring needs: the backend, model and parameters with every
 * default applied, or the reference scorer. Capability mismatches the caller asked for are refused here
 * (FAILED_PRECONDITION), never worked around: logprob weighting on a backend without logprobs, or shared-request
 * repeats explicitly asked of one without n. Left unset, the strategy is the cheap one the backend allows:
 * repeats share one request (n = R) where the backend honours n, else one request per repeat.
 */
import { type JudgeConfig, RepeatStrategy, ScoringMode } from "@ragtune/contracts/judge";
import { failedPrecondition, invalidArgument } from "@ragtune/runtime";
import type { JudgeBackend, JudgeModel } from "./judge-backend.js";
import { REFERENCE_SCORER_NAME } from "./reference-scorer.js";

export const DEFAULT_REPEATS = 10;
export const DEFAULT_SAMPLES = 20;
/**
 * G-Eval's sampling temperature (it samples n = 20 at temperature 1): repeats and samples must be independent
 * draws, or their spread says nothing about the judge.
 */
export const DEFAULT_TEMPERATURE = 1;

export interface ReferenceJudge {
  kind: "reference";
  mode: ScoringMode.REFERENCE;
  label: string;
}

export interface ModelJudge {
  kind: "geval";
  mode: ScoringMode.LOGPROB_WEIGHTED | ScoringMode.N_SAMPLE | ScoringMode.SINGLE;
  backend: JudgeBackend;
  model: JudgeModel;
  strategy: RepeatStrategy.INDEPENDENT_CALLS | RepeatStrategy.SHARED_REQUEST;
  /** True when the caller named the strategy: then a backend found ignoring n fails the call instead of falling back. */
  strategyExplicit: boolean;
  /** Why this strategy, recorded with every score. */
  strategyReason: string;
  repeats: number;
  samples: number;
  temperature: number;
  /** The model as recorded with scores: base model, plus "+adapter" when one is set. */
  label: string;
}

export type ResolvedJudge = ReferenceJudge | ModelJudge;

export interface JudgeBackends {
  backends: ReadonlyMap<string, JudgeBackend>;
  defaultBackend: string;
  /** Judge model used when a request leaves base_model empty; "" when none is configured. */
  defaultModel: string;
}

/** `field` is the request's path to the config ("judge" or "compare_judge"); it is assumed validated. */
export function resolveJudge(config: JudgeConfig, field: string, available: JudgeBackends): ResolvedJudge {
  if (config.mode === ScoringMode.REFERENCE) {
    return { kind: "reference", mode: ScoringMode.REFERENCE, label: REFERENCE_SCORER_NAME };
  }
  if (available.backends.size === 0) {
    throw failedPrecondition(
      `${field}.mode: no judge model backend is configured (set JUDGE_OPENAI_BASE_URL); SCORING_MODE_REFERENCE needs none`,
    );
  }
  const backendName = config.model?.backend || available.defaultBackend;
  const backend = available.backends.get(backendName);
  if (!backend) {
    const known = [...available.backends.keys()].join(", ") || "none";
    throw invalidArgument(`${field}.model.backend`, `unknown backend '${backendName}' (configured: ${known})`);
  }
  const baseModel = config.model?.baseModel || available.defaultModel;
  if (!baseModel) throw invalidArgument(`${field}.model.base_model`, "required: no default judge model is configured");
  const mode = config.mode as ModelJudge["mode"];
  const strategyExplicit = config.repeatStrategy !== RepeatStrategy.UNSPECIFIED;
  const strategy = strategyExplicit
    ? (config.repeatStrategy as ModelJudge["strategy"])
    : backend.supportsN
      ? RepeatStrategy.SHARED_REQUEST
      : RepeatStrategy.INDEPENDENT_CALLS;
  if (mode === ScoringMode.LOGPROB_WEIGHTED && !backend.supportsLogprobs) {
    throw failedPrecondition(`${field}.mode: backend '${backend.name}' returns no logprobs; choose another mode`);
  }
  if (strategy === RepeatStrategy.SHARED_REQUEST && !backend.supportsN) {
    throw failedPrecondition(
      `${field}.repeat_strategy: backend '${backend.name}' does not support n; use REPEAT_STRATEGY_INDEPENDENT_CALLS`,
    );
  }
  const adapter = config.model?.adapter ?? "";
  return {
    kind: "geval",
    mode,
    backend,
    model: { baseModel, adapter },
    strategy,
    strategyExplicit,
    strategyReason: strategyExplicit
      ? "asked for by the request"
      : backend.supportsN
        ? `default: backend '${backend.name}' honours n, so a criterion's repeats share one request`
        : `default: backend '${backend.name}' is configured without n, so each repeat is its own request`,
    // The score token's distribution is the same for every request of one prompt (validation refuses more).
    repeats: mode === ScoringMode.LOGPROB_WEIGHTED ? 1 : config.repeats || DEFAULT_REPEATS,
    samples: mode === ScoringMode.N_SAMPLE ? config.samples || DEFAULT_SAMPLES : 1,
    temperature: config.greedy ? 0 : config.temperature || DEFAULT_TEMPERATURE,
    label: adapter ? `${baseModel}+${adapter}` : baseModel,
  };
}
