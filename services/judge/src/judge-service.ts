/**
 * JudgeService over the engine: validates each request (./validation.ts), resolves the judge, scores, maps
 * failures to status codes, and announces finished batches as `ragtune.judge.batch.scored`.
 */
import { setMaxListeners } from "node:events";
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import { BatchScoredSchema } from "@ragtune/contracts/events";
import {
  CriterionSchema,
  type JudgeService,
  ListCriteriaResponseSchema,
  type ScoreBatchRequest,
  ScoreBatchResponseSchema,
  type ScoreRequest,
  type ScoreResponse,
  ScaleAnchorSchema,
} from "@ragtune/contracts/judge";
import { LlmError } from "@ragtune/llm";
import {
  failedPrecondition,
  invalidArgument,
  type Logger,
  type NatsHandle,
  notFound,
  unavailable,
} from "@ragtune/runtime";
import { trace } from "@opentelemetry/api";
import { createConcurrencyLimiter } from "./concurrency.js";
import { BUILT_IN_CRITERIA } from "./criteria.js";
import { StepsGenerationError } from "./evaluation-steps.js";
import type { JudgeEngine } from "./judge-engine.js";
import { type JudgeBackends, resolveJudge } from "./resolved-judge.js";
import { asCalibrationReport } from "./reliability.js";
import {
  validateBatchShape,
  validateCriteria,
  validateHumanRatings,
  validateItem,
  validateJudgeConfig,
} from "./validation.js";

export const BATCH_SCORED_SUBJECT = "ragtune.judge.batch.scored";
export const DEFAULT_BATCH_CONCURRENCY = 8;
/** LLM requests of one Score call in flight at once. */
export const SCORE_CONCURRENCY = 8;

export interface JudgeEvents {
  batchScored(event: {
    items: number;
    requests: bigint;
    failedRepeats: number;
    durationSeconds: number;
  }): Promise<void>;
}

export interface JudgeServiceOptions {
  engine: JudgeEngine;
  backends: JudgeBackends;
  events?: JudgeEvents;
  logger?: Logger;
}

/**
 * Every request in flight listens on the call's abort signal (the HTTP client cancels through it), so a call
 * legitimately has as many listeners as it has requests in flight; raise Node's leak warning threshold to that.
 */
function callSignal(context: HandlerContext | undefined, inFlight: number): AbortSignal | undefined {
  if (context?.signal) setMaxListeners(inFlight + 16, context.signal);
  return context?.signal;
}

function stripRawOutput(response: ScoreResponse): void {
  for (const score of response.scores) {
    for (const repeat of score.repeats) {
      repeat.rawOutput = "";
      repeat.rationale = "";
    }
  }
}

/** Maps backend failures onto status codes; validation errors are already ConnectErrors. */
function toConnectError(error: unknown): unknown {
  if (error instanceof ConnectError) return error;
  if (error instanceof StepsGenerationError) return failedPrecondition(error.message);
  if (error instanceof LlmError) {
    if (error.kind === "http" && error.status === 404) return notFound("judge model", error.message);
    if (
      error.kind === "http" &&
      error.status !== undefined &&
      error.status >= 400 &&
      error.status < 500 &&
      error.status !== 429
    ) {
      return failedPrecondition(`the judge backend refused the request: ${error.message}`);
    }
    return unavailable(`the judge backend failed: ${error.message}`, error);
  }
  return error;
}

export class JudgeServiceImpl implements ServiceImpl<typeof JudgeService> {
  constructor(private readonly options: JudgeServiceOptions) {}

  async score(request: ScoreRequest, context?: HandlerContext): Promise<ScoreResponse> {
    const config = validateJudgeConfig("judge", request.judge);
    const criteria = validateCriteria(request.criteria, request.customCriteria, config.mode);
    const item = validateItem("item", request.item, config.mode);
    const judge = resolveJudge(config, "judge", this.options.backends);
    try {
      const limiter = createConcurrencyLimiter(SCORE_CONCURRENCY);
      return await this.options.engine.scoreItem(
        item,
        criteria,
        judge,
        [limiter],
        callSignal(context, SCORE_CONCURRENCY),
      );
    } catch (error) {
      throw toConnectError(error);
    }
  }

  async scoreBatch(request: ScoreBatchRequest, context?: HandlerContext) {
    const started = performance.now();
    const config = validateJudgeConfig("judge", request.judge);
    validateBatchShape(request.items.length, request.concurrency);
    const criteria = validateCriteria(request.criteria, request.customCriteria, config.mode);
    const compareConfig = request.compareJudge ? validateJudgeConfig("compare_judge", request.compareJudge) : undefined;
    if (compareConfig) validateCriteria(request.criteria, request.customCriteria, compareConfig.mode);
    const items = request.items.map((item, i) => {
      validateItem(`items[${i}]`, item, config.mode);
      if (compareConfig) validateItem(`items[${i}]`, item, compareConfig.mode);
      return item;
    });
    validateHumanRatings(
      request.humanRatings,
      items,
      criteria.map((c) => c.name),
    );
    const judge = resolveJudge(config, "judge", this.options.backends);
    const compare = compareConfig ? resolveJudge(compareConfig, "compare_judge", this.options.backends) : undefined;
    if (compare && compare.label === judge.label && compare.mode === judge.mode) {
      throw invalidArgument(
        "compare_judge",
        "is the same judge as judge; its agreement with itself is the reliability report's repeat_alpha",
      );
    }
    const concurrency = request.concurrency || DEFAULT_BATCH_CONCURRENCY;
    let result: Awaited<ReturnType<JudgeEngine["scoreBatch"]>>;
    try {
      result = await this.options.engine.scoreBatch(
        items,
        criteria,
        judge,
        concurrency,
        compare,
        callSignal(context, concurrency),
        request.humanRatings,
      );
    } catch (error) {
      throw toConnectError(error);
    }
    const { reliability } = result;
    const failedRepeats = Object.values(reliability.failedRepeats).reduce((a, b) => a + b, 0);
    const durationSeconds = (performance.now() - started) / 1000;
    trace.getActiveSpan()?.setAttributes({
      "ragtune.judge.items": items.length,
      "ragtune.judge.requests": Number(reliability.requests),
      "ragtune.judge.failed_repeats": failedRepeats,
    });
    await this.options.events
      ?.batchScored({ items: items.length, requests: reliability.requests, failedRepeats, durationSeconds })
      // The batch's scores are the caller's result; a lost announcement is logged, not turned into a failure.
      .catch((error) => this.options.logger?.warn("could not publish batch.scored", { error }));
    if (request.omitRawOutput) {
      for (const response of [...result.results, ...result.compareResults]) stripRawOutput(response);
    }
    return create(ScoreBatchResponseSchema, {
      results: result.results,
      reliability,
      // Deprecated name, same figures, for clients that read it still.
      calibration: asCalibrationReport(reliability),
      compareResults: result.compareResults,
    });
  }

  async listCriteria() {
    return create(ListCriteriaResponseSchema, {
      criteria: BUILT_IN_CRITERIA.map((c) =>
        create(CriterionSchema, {
          name: c.name,
          definition: c.definition,
          anchors: c.anchors.map((a) => create(ScaleAnchorSchema, a)),
        }),
      ),
    });
  }
}

/** Events over the runtime's NATS handle. */
export function createNatsJudgeEvents(nats: Pick<NatsHandle, "publishEvent">): JudgeEvents {
  return {
    batchScored: (event) => nats.publishEvent(BATCH_SCORED_SUBJECT, BatchScoredSchema, event),
  };
}
