/**
 * Wraps a backend so every LLM call is a client span with the OpenTelemetry GenAI semantic-convention
 * attributes (operation, system, request model and parameters, response model, token usage).
 */
import { SpanKind } from "@opentelemetry/api";
import { recordLlmCall, withSpan } from "@ragtune/runtime";
import type { JudgeBackend } from "../judge-backend.js";

const TRACER = "ragtune.judge";

export function createTracedBackend(backend: JudgeBackend): JudgeBackend {
  return {
    ...backend,
    complete(request, signal) {
      const requestModel = request.model.adapter || request.model.baseModel;
      const attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": backend.system,
        // The attribute gen_ai.provider.name replaced; many trace UIs still read only this one.
        "gen_ai.system": backend.system,
        "gen_ai.request.model": requestModel,
        "ragtune.adapter": request.model.adapter,
        "gen_ai.request.temperature": request.temperature,
        "gen_ai.request.max_tokens": request.maxTokens,
        "gen_ai.request.choice.count": request.n,
        "ragtune.judge.backend": backend.name,
        "ragtune.judge.top_logprobs": request.topLogprobs,
      };
      return withSpan(
        TRACER,
        `chat ${requestModel}`,
        attributes,
        async (span) => {
          const started = performance.now();
          const completion = await backend.complete(request, signal);
          recordLlmCall({
            system: backend.system,
            model: request.model.baseModel,
            adapter: request.model.adapter,
            operation: "chat",
            inputTokens: completion.inputTokens,
            outputTokens: completion.outputTokens,
            seconds: (performance.now() - started) / 1000,
          });
          span.setAttributes({
            "gen_ai.response.model": completion.model,
            "gen_ai.usage.input_tokens": completion.inputTokens,
            "gen_ai.usage.output_tokens": completion.outputTokens,
            "gen_ai.response.finish_reasons": completion.choices.map((c) => c.finishReason ?? ""),
          });
          return completion;
        },
        SpanKind.CLIENT,
      );
    },
  };
}
