import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { ModelRefSchema, TokenUsageSchema } from "@ragtune/contracts/common";
import {
  type GenerateRequest,
  type GenerateResponse,
  GenerateResponseSchema,
  type GenerateStreamRequest,
  type GenerateStreamResponse,
  GenerateStreamResponseSchema,
  type GeneratorService,
  type ListModelsResponse,
  ListModelsResponseSchema,
  ServedModelSchema,
} from "@ragtune/contracts/generator";
import {
  invalidArgument,
  type Logger,
  notFound,
  recordLlmCall,
  recordSpanFailure,
  requirePresent,
  withSpan,
} from "@ragtune/runtime";
import { type Span, trace } from "@opentelemetry/api";
import type { GenerationBackend, GenerationInput, GenerationOutput, ResolvedModel } from "@ragtune/llamacpp";
import { createTemplateRegistry, type TemplateRegistry } from "@ragtune/prompt";
import { type AnswerRecords, requestHashOf } from "./answer-records.js";
import { type FittedPrompt, fitPromptToWindow } from "./truncation.js";
import { type ValidatedGenerateRequest, validateGenerateRequest } from "./validation.js";

export interface GeneratorServiceOptions {
  backends: GenerationBackend[];
  /** Backend used when a request names none. */
  defaultBackend: string;
  templates?: TemplateRegistry;
  /** Template per backend name when a request names none (small-window models want a compact one). */
  defaultTemplates?: Record<string, string>;
  /** Where answers to requests with an idempotency key are kept; absent: such keys are accepted and ignored. */
  answerRecords?: AnswerRecords;
  logger?: Logger;
}

const TRACER = "ragtune.generator";

interface AnswerRecordRef {
  key: string;
  requestHash: string;
  /** The request field holding the key, for errors. */
  field: string;
}

interface PreparedGeneration {
  request: ValidatedGenerateRequest;
  backend: GenerationBackend;
  model: ResolvedModel;
  fitted: FittedPrompt;
  input: GenerationInput;
}

/** GeneratorService: answers questions from context chunks over pluggable backends. */
export class GeneratorServiceImpl implements ServiceImpl<typeof GeneratorService> {
  private readonly backends = new Map<string, GenerationBackend>();
  private readonly templates: TemplateRegistry;

  constructor(private readonly options: GeneratorServiceOptions) {
    for (const backend of options.backends) {
      if (this.backends.has(backend.name)) throw new Error(`backend ${backend.name} is configured twice`);
      this.backends.set(backend.name, backend);
    }
    if (!this.backends.has(options.defaultBackend)) {
      throw new Error(`default backend ${options.defaultBackend} is not among ${[...this.backends.keys()].join(", ")}`);
    }
    this.templates = options.templates ?? createTemplateRegistry();
  }

  async generate(request: GenerateRequest, context: HandlerContext): Promise<GenerateResponse> {
    const validated = validateGenerateRequest(request);
    return withSpan(TRACER, spanName(validated), requestAttributes(validated), async (span) => {
      const record = this.recordFor(request, validated);
      const kept = await this.keptAnswer(span, record);
      if (kept) return kept;
      const prepared = await this.prepare(validated, context.signal);
      const started = performance.now();
      const output = await prepared.backend.generate(prepared.input);
      const response = this.finish(span, prepared, output, (performance.now() - started) / 1000);
      await this.keep(record, response);
      return response;
    });
  }

  async *generateStream(
    request: GenerateStreamRequest,
    context: HandlerContext,
  ): AsyncGenerator<GenerateStreamResponse> {
    const inner = requirePresent("request", request.request);
    const validated = validateGenerateRequest(inner, "request");
    const tracer = trace.getTracer(TRACER);
    const span = tracer.startSpan(spanName(validated), { attributes: requestAttributes(validated) });
    try {
      const record = this.recordFor(inner, validated, "request.");
      const kept = await this.keptAnswer(span, record);
      if (kept) {
        yield create(GenerateStreamResponseSchema, { event: { case: "result", value: kept } });
        return;
      }
      const prepared = await this.prepare(validated, context.signal);
      const started = performance.now();
      for await (const event of prepared.backend.generateStream(prepared.input)) {
        if ("delta" in event) {
          yield create(GenerateStreamResponseSchema, { event: { case: "delta", value: event.delta } });
        } else {
          const result = this.finish(span, prepared, event.done, (performance.now() - started) / 1000);
          await this.keep(record, result);
          yield create(GenerateStreamResponseSchema, { event: { case: "result", value: result } });
        }
      }
    } catch (error) {
      recordSpanFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  /** Models of every backend that answers; a backend that is down is left out (and logged), unless all are. */
  async listModels(_request: unknown, context: HandlerContext): Promise<ListModelsResponse> {
    const backends = [...this.backends.values()];
    const settled = await Promise.allSettled(backends.map((backend) => backend.listModels(context.signal)));
    const models = settled.flatMap((result, i) => {
      const backend = backends[i];
      if (result.status === "rejected") {
        this.options.logger?.warn("backend cannot list its models", { backend: backend.name, error: result.reason });
        return [];
      }
      return result.value.map((m) =>
        create(ServedModelSchema, {
          backend: backend.name,
          baseModel: m.baseModel,
          adapters: m.adapters,
          contextWindow: m.contextWindow ?? 0,
          kind: backend.kind,
        }),
      );
    });
    const failure = settled.find((r) => r.status === "rejected");
    if (models.length === 0 && failure) throw (failure as PromiseRejectedResult).reason;
    return create(ListModelsResponseSchema, { models });
  }

  /** Readiness: every backend that can tell whether it serves. */
  async ping(): Promise<void> {
    await Promise.all([...this.backends.values()].map((b) => b.ping?.()));
  }

  /** The key and request hash an answer is kept under; undefined when the request has no key or nothing keeps. */
  private recordFor(
    request: GenerateRequest,
    validated: ValidatedGenerateRequest,
    field = "",
  ): AnswerRecordRef | undefined {
    if (!validated.idempotencyKey || !this.options.answerRecords) return undefined;
    return { key: validated.idempotencyKey, requestHash: requestHashOf(request), field: `${field}idempotency_key` };
  }

  /** The answer kept for this request's key, given again; a key kept for another request is refused. */
  private async keptAnswer(span: Span, record: AnswerRecordRef | undefined): Promise<GenerateResponse | undefined> {
    if (!record) return undefined;
    const kept = await this.options.answerRecords!.find(record.key);
    span.setAttribute("ragtune.generator.replayed", kept !== undefined);
    if (!kept) return undefined;
    if (kept.requestHash !== record.requestHash) {
      throw invalidArgument(record.field, "was already used for a different request; use a new key");
    }
    return { ...kept.response, replayed: true };
  }

  private async keep(record: AnswerRecordRef | undefined, response: GenerateResponse): Promise<void> {
    if (record) await this.options.answerRecords!.keep(record.key, { requestHash: record.requestHash, response });
  }

  private async prepare(request: ValidatedGenerateRequest, signal: AbortSignal): Promise<PreparedGeneration> {
    const backendName = request.backend || this.options.defaultBackend;
    const backend = this.backends.get(backendName);
    if (!backend) throw notFound("backend", backendName);
    if (request.jsonSchema && backend.kind === "extractive") {
      throw invalidArgument("json_schema", "the extractive reader picks sentences and cannot follow a JSON schema");
    }
    const templateId = request.templateId || this.options.defaultTemplates?.[backendName] || "";
    const template = this.templates.get(templateId);
    if (!template) throw notFound("template", request.templateId);
    const model = await backend.resolve(request.baseModel, request.adapter, signal);
    const fitted = await fitPromptToWindow({
      question: request.question,
      contexts: request.contexts,
      template,
      window: model.contextWindow,
      maxTokens: request.sampling.maxTokens,
      countTokens: (prompt) => backend.countTokens(model, prompt),
      allowTruncation: request.allowTruncation,
    });
    if (fitted.truncated) this.options.logger?.debug("prompt truncated", { note: fitted.note, model: model.baseModel });
    return {
      request,
      backend,
      model,
      fitted,
      input: {
        model,
        question: request.question,
        contexts: fitted.contexts,
        prompt: fitted.prompt,
        sampling: request.sampling,
        jsonSchema: request.jsonSchema,
        signal,
      },
    };
  }

  private finish(
    span: Span,
    prepared: PreparedGeneration,
    output: GenerationOutput,
    latencySeconds: number,
  ): GenerateResponse {
    const { model, fitted, backend } = prepared;
    span.setAttributes({
      "gen_ai.response.model": model.adapter || model.baseModel,
      "gen_ai.response.finish_reasons": [output.finishReason],
      "gen_ai.usage.input_tokens": output.inputTokens,
      "gen_ai.usage.output_tokens": output.outputTokens,
      "gen_ai.provider.name": backend.kind,
      // The attribute gen_ai.provider.name replaced; many trace UIs still read only this one.
      "gen_ai.system": backend.kind,
      "ragtune.generator.backend": backend.name,
      "ragtune.generator.backend_kind": backend.kind,
      "ragtune.generator.adapter": model.adapter,
      "ragtune.generator.template_id": fitted.prompt.templateId,
      "ragtune.generator.template_hash": fitted.prompt.templateHash,
      "ragtune.generator.contexts_used": fitted.contexts.length,
      "ragtune.generator.truncated": fitted.truncated,
      "ragtune.generator.latency": latencySeconds,
    });
    recordLlmCall({
      system: backend.kind,
      model: model.baseModel,
      adapter: model.adapter,
      operation: "chat",
      inputTokens: output.inputTokens,
      outputTokens: output.outputTokens,
      seconds: latencySeconds,
    });
    return create(GenerateResponseSchema, {
      answer: output.text,
      model: create(ModelRefSchema, { baseModel: model.baseModel, adapter: model.adapter, backend: model.backend }),
      templateId: fitted.prompt.templateId,
      templateHash: fitted.prompt.templateHash,
      usage: create(TokenUsageSchema, { inputTokens: output.inputTokens, outputTokens: output.outputTokens }),
      finishReason: output.finishReason,
      latencySeconds,
      contextsUsed: fitted.contexts.length,
      truncated: fitted.truncated,
      truncationNote: fitted.note,
      backendKind: backend.kind,
    });
  }
}

/** GenAI semantic conventions: "{operation} {model}". */
function spanName(request: ValidatedGenerateRequest): string {
  return `chat ${request.baseModel || "default"}`;
}

function requestAttributes(request: ValidatedGenerateRequest) {
  return {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": request.baseModel || "default",
    "gen_ai.request.max_tokens": request.sampling.maxTokens,
    "gen_ai.request.temperature": request.sampling.temperature,
    ...(request.sampling.topP > 0 ? { "gen_ai.request.top_p": request.sampling.topP } : {}),
    ...(request.sampling.seed > 0 ? { "gen_ai.request.seed": request.sampling.seed } : {}),
    "ragtune.generator.requested_backend": request.backend || "default",
    "ragtune.generator.requested_adapter": request.adapter,
  };
}
