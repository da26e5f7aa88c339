/**
 * The metrics every ragtune process records, one place for their names, units and attributes. Instruments come
 * from the global meter provider that initTelemetry registers when metrics are exported (OTLP, alongside traces);
 * before that, or without an endpoint, they are the API's no-ops and cost a function call.
 * Names follow the OpenTelemetry semantic conventions where one exists (rpc.*, gen_ai.client.*).
 */
import { type Attributes, type Histogram, type Meter, metrics } from "@opentelemetry/api";

const METER = "ragtune";
/** Seconds buckets from 1 ms to about 4 h: RPCs and LLM calls at the low end, fine-tunes and stages at the top. */
const SECONDS_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200,
  14400,
];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

interface Instruments {
  rpcServer: Histogram;
  rpcClient: Histogram;
  stage: Histogram;
  queueWait: Histogram;
  tokens: Histogram;
  llmDuration: Histogram;
  cellsDone: ReturnType<Meter["createCounter"]>;
}

let cached: { meter: Meter; instruments: Instruments } | undefined;

/** Instruments of the meter the global provider gives now (re-made once a provider has been registered). */
function instruments(): Instruments {
  const meter = metrics.getMeter(METER);
  if (cached?.meter === meter) return cached.instruments;
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, { unit: "s", description, advice: { explicitBucketBoundaries: SECONDS_BUCKETS } });
  const made: Instruments = {
    rpcServer: seconds("rpc.server.call.duration", "Duration of gRPC calls this server answered"),
    rpcClient: seconds("rpc.client.call.duration", "Duration of gRPC calls this process made"),
    stage: seconds("ragtune.stage.duration", "Duration of an experiment stage (prepare, fine-tune, generate, judge)"),
    queueWait: seconds("ragtune.queue.wait", "Time a unit of work waited in a queue before it ran"),
    tokens: meter.createHistogram("gen_ai.client.token.usage", {
      unit: "{token}",
      description: "Tokens per LLM call, by gen_ai.token.type (input or output)",
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    }),
    llmDuration: seconds("gen_ai.client.operation.duration", "Duration of LLM calls"),
    cellsDone: meter.createCounter("ragtune.experiment.cells.done", {
      unit: "{cell}",
      description: "Cells of experiments finished (succeeded or failed, by ragtune.cell.outcome)",
    }),
  };
  // Before initTelemetry registers a provider the API gives the no-op meter; the identity check above re-makes
  // the instruments once the real one is there.
  cached = { meter, instruments: made };
  return made;
}

/** Duration of one gRPC call: side "server" for calls answered, "client" for calls made. */
export function recordRpcDuration(
  side: "server" | "client",
  seconds: number,
  attributes: { service: string; method: string; code: number },
): void {
  const histogram = side === "server" ? instruments().rpcServer : instruments().rpcClient;
  histogram.record(seconds, {
    "rpc.system": "grpc",
    "rpc.service": attributes.service,
    "rpc.method": attributes.method,
    "rpc.grpc.status_code": attributes.code,
  });
}

/** Duration of a stage of an experiment cell; stage is one of prepare, fine-tune, generate, judge. */
export function recordStageDuration(seconds: number, attributes: { stage: string } & Attributes): void {
  const { stage, ...rest } = attributes;
  instruments().stage.record(seconds, { "ragtune.stage": stage, ...rest });
}

/** Time a unit of work (a training job, a request) waited before it ran, by ragtune.queue name. */
export function recordQueueWait(seconds: number, queue: string, attributes: Attributes = {}): void {
  instruments().queueWait.record(seconds, { "ragtune.queue": queue, ...attributes });
}

export interface LlmCallUsage {
  /** gen_ai.system / gen_ai.provider.name, e.g. "openai", "vllm", "llama.cpp". */
  system: string;
  model: string;
  /** LoRA adapter in effect, "" for the base model. */
  adapter: string;
  operation: "chat" | "text_completion";
  inputTokens: number;
  outputTokens: number;
  seconds: number;
}

/** Token usage and duration of one LLM call (GenAI semantic-convention metrics). */
export function recordLlmCall(usage: LlmCallUsage): void {
  const base = {
    "gen_ai.operation.name": usage.operation,
    "gen_ai.system": usage.system,
    "gen_ai.request.model": usage.model,
    "ragtune.adapter": usage.adapter,
  };
  const { tokens, llmDuration } = instruments();
  tokens.record(usage.inputTokens, { ...base, "gen_ai.token.type": "input" });
  tokens.record(usage.outputTokens, { ...base, "gen_ai.token.type": "output" });
  llmDuration.record(usage.seconds, base);
}

/** One cell of an experiment finished. */
export function recordCellDone(outcome: "succeeded" | "failed", attributes: Attributes = {}): void {
  instruments().cellsDone.add(1, { "ragtune.cell.outcome": outcome, ...attributes });
}

/**
 * Gauges read when metrics are collected (queue depth, GPU memory): `observe` reports the current values.
 * Returns a function that stops observing.
 */
export function observeGauge(
  name: string,
  options: { unit: string; description: string },
  observe: () => Array<{ value: number; attributes: Attributes }>,
): () => void {
  const gauge = metrics.getMeter(METER).createObservableGauge(name, options);
  const callback = (result: { observe(value: number, attributes?: Attributes): void }) => {
    for (const { value, attributes } of observe()) result.observe(value, attributes);
  };
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}
