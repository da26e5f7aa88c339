import { ADAPTER_ID } from "@ragtune/adapter-archive";
import type { GenerateRequest } from "@ragtune/contracts/generator";
import { TruncationPolicy, TruncationPolicySchema } from "@ragtune/contracts/generator";
import { invalidArgument, requireKnownEnum, requireNonEmpty, requireRange } from "@ragtune/runtime";
import type { SamplingSettings } from "@ragtune/llamacpp";
import type { PromptContext } from "@ragtune/prompt";

/** The generator's request rules, in one place. */
export const LIMITS = {
  questionChars: 8_000,
  contexts: 100,
  contextChars: 100_000,
  maxTokens: 32_768,
  defaultMaxTokens: 512,
  stopSequences: 8,
  jsonSchemaChars: 64_000,
  idempotencyKeyChars: 256,
} as const;

export interface ValidatedGenerateRequest {
  question: string;
  contexts: PromptContext[];
  backend: string;
  baseModel: string;
  adapter: string;
  sampling: SamplingSettings;
  templateId: string;
  allowTruncation: boolean;
  jsonSchema: object | undefined;
  /** Empty: the answer is not kept for retries. */
  idempotencyKey: string;
}

export function validateGenerateRequest(request: GenerateRequest, field = ""): ValidatedGenerateRequest {
  const at = (name: string) => (field ? `${field}.${name}` : name);
  requireNonEmpty(at("question"), request.question);
  if (request.question.length > LIMITS.questionChars) {
    throw invalidArgument(at("question"), `must be at most ${LIMITS.questionChars} characters`);
  }
  if (request.contexts.length > LIMITS.contexts)
    throw invalidArgument(at("contexts"), `at most ${LIMITS.contexts} chunks`);
  request.contexts.forEach((context, i) => {
    requireNonEmpty(at(`contexts[${i}].text`), context.text);
    if (context.text.length > LIMITS.contextChars) {
      throw invalidArgument(at(`contexts[${i}].text`), `must be at most ${LIMITS.contextChars} characters`);
    }
  });
  const sampling = request.sampling;
  const temperature = sampling?.temperature ?? 0;
  const topP = sampling?.topP ?? 0;
  const maxTokens = sampling?.maxTokens ?? 0;
  requireRange(at("sampling.temperature"), temperature, 0, 2);
  requireRange(at("sampling.top_p"), topP, 0, 1);
  requireRange(at("sampling.max_tokens"), maxTokens, 0, LIMITS.maxTokens);
  const stop = sampling?.stop ?? [];
  if (stop.length > LIMITS.stopSequences)
    throw invalidArgument(at("sampling.stop"), `at most ${LIMITS.stopSequences} sequences`);
  stop.forEach((s, i) => requireNonEmpty(at(`sampling.stop[${i}]`), s));
  requireKnownEnum(at("truncation"), request.truncation, TruncationPolicySchema, { allowUnspecified: true });
  // An adapter id names a file, a folder and an object (<id>.tar, <dir>/<id>/): the trainer's id rule, no paths.
  const adapter = request.model?.adapter ?? "";
  if (adapter && !ADAPTER_ID.test(adapter)) {
    throw invalidArgument(
      at("model.adapter"),
      "must be 1..128 characters of [A-Za-z0-9._-], starting with a letter or digit",
    );
  }

  let jsonSchema: object | undefined;
  if (request.jsonSchema !== "") {
    if (request.jsonSchema.length > LIMITS.jsonSchemaChars) {
      throw invalidArgument(at("json_schema"), `must be at most ${LIMITS.jsonSchemaChars} characters`);
    }
    try {
      jsonSchema = JSON.parse(request.jsonSchema);
    } catch {
      throw invalidArgument(at("json_schema"), "must be JSON");
    }
    if (typeof jsonSchema !== "object" || jsonSchema === null || Array.isArray(jsonSchema)) {
      throw invalidArgument(at("json_schema"), "must be a JSON object (a JSON Schema)");
    }
  }
  const idempotencyKey = request.idempotencyKey;
  if (idempotencyKey.length > LIMITS.idempotencyKeyChars) {
    throw invalidArgument(at("idempotency_key"), `must be at most ${LIMITS.idempotencyKeyChars} characters`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(idempotencyKey)) {
    throw invalidArgument(at("idempotency_key"), "must be printable characters (no control characters)");
  }

  return {
    question: request.question,
    contexts: request.contexts.map((c) => ({ text: c.text, sourceId: c.sourceId })),
    backend: request.model?.backend ?? "",
    baseModel: request.model?.baseModel ?? "",
    adapter: request.model?.adapter ?? "",
    sampling: {
      temperature,
      topP,
      maxTokens: maxTokens || LIMITS.defaultMaxTokens,
      seed: Number(sampling?.seed ?? 0n),
      stop,
    },
    templateId: request.templateId,
    allowTruncation: request.truncation !== TruncationPolicy.DISABLED,
    jsonSchema,
    idempotencyKey,
  };
}
