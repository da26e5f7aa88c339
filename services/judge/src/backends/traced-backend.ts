/**
 * Wraps a backend so every LLM call is a client span with the OpenTelemetry GenAI semantic-convention
 * attributes (operation, system, request model and parameters, response model, token usage).
 */
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { JudgeBackend } from "../judge-backend.js";

const tracer = trace.getTracer("ragtune.judge");

export function createTracedBackend(backend: JudgeBackend): JudgeBackend {
  return {
    ...backend,
    complete(request, signal) {
      const requestModel = request.model.adapter || request.model.baseModel;
      return tracer.startActiveSpan(
        `chat ${requestModel}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": backend.system,
            // The attribute gen_ai.provider.name replaced; many trace UIs still read only this one.
            "gen_ai.system": backend.system,
            "gen_ai.request.model": requestModel,
            "gen_ai.request.temperature": request.temperature,
            "gen_ai.request.max_tokens": request.maxTokens,
            "gen_ai.request.choice.count": request.n,
            "ragtune.judge.backend": backend.name,
            "ragtune.judge.top_logprobs": request.topLogprobs,
          },
        },
        async (span) => {
          try {
            const completion = await backend.complete(request, signal);
            span.setAttributes({
              "gen_ai.response.model": completion.model,
              "gen_ai.usage.input_tokens": completion.inputTokens,
              "gen_ai.usage.output_tokens": completion.outputTokens,
              "gen_ai.response.finish_reasons": completion.choices.map((c) => c.finishReason ?? ""),
            });
            return completion;
          } catch (error) {
            span.recordException(error as Error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
            throw error;
          } finally {
            span.end();
          }
        },
      );
    },
  };
}
