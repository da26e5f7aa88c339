/** GeneratorService's promises (proto/ragtune/generator/v1/generator.proto), on a model the service lists. */
import type { Message, MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { GeneratorService, type GenerateRequestSchema } from "@ragtune/contracts/generator";
import type { Check, CheckContext, Contract } from "./check.js";
import { type BadInput, invalidArgumentChecks } from "./bad-input.js";
import { commonChecks } from "./common-checks.js";
import { ensure, expectCode } from "./expect.js";

type GenerateInit = Exclude<MessageInitShape<typeof GenerateRequestSchema>, Message>;

const generator = (ctx: CheckContext) => ctx.client(GeneratorService);

const request = (overrides: Partial<GenerateInit> = {}): GenerateInit => ({
  question: "Which protein does alvestin inhibit?",
  contexts: [
    { text: "The compound alvestin inhibits the kinase PX7 with high selectivity.", sourceId: "doc-1", score: 2 },
    { text: "Dosage was adjusted by body weight.", sourceId: "doc-2", score: 1 },
  ],
  sampling: { temperature: 0, maxTokens: 64 },
  ...overrides,
});

const invalid: BadInput<GenerateInit>[] = [
  ["question must not be empty", "question", request({ question: "" })],
  ["sampling.temperature within 0..2", "sampling.temperature", request({ sampling: { temperature: 3 } })],
  ["sampling.top_p within 0..1", "sampling.top_p", request({ sampling: { topP: 1.5 } })],
];

const checks: Check[] = [
  ...commonChecks(GeneratorService),
  {
    name: "ListModels: lists at least one model with its backend",
    async run(ctx) {
      const { models } = await generator(ctx).listModels({});
      ensure(models.length > 0, "no models");
      for (const m of models) ensure(m.backend && m.baseModel, `a model without backend or base_model`);
    },
  },
  {
    name: "Generate: answers on the default backend, naming the model and the contexts used",
    async run(ctx) {
      const res = await generator(ctx).generate(request());
      ensure(res.answer.trim(), "empty answer");
      ensure(res.model?.baseModel, "model.base_model not set");
      ensure(res.contextsUsed >= 1 && res.contextsUsed <= 2, `contexts_used ${res.contextsUsed}`);
    },
  },
  {
    name: "GenerateStream: deltas, then one result last whose answer is the deltas joined",
    async run(ctx) {
      let text = "";
      let result: string | undefined;
      for await (const msg of generator(ctx).generateStream({ request: request() })) {
        ensure(result === undefined, "a message after the result");
        if (msg.event.case === "delta") text += msg.event.value;
        else if (msg.event.case === "result") result = msg.event.value.answer;
      }
      ensure(result !== undefined, "no result message");
      ensure(text === "" || text === result, `deltas "${text.slice(0, 40)}" ≠ result "${result.slice(0, 40)}"`);
    },
  },
  {
    name: "Generate: NOT_FOUND for an unknown backend",
    run: (ctx) =>
      expectCode(
        generator(ctx).generate(request({ model: { backend: ctx.unique("no-such-backend") } })),
        Code.NotFound,
      ),
  },
  {
    name: "Generate: NOT_FOUND for an unknown template",
    run: (ctx) =>
      expectCode(generator(ctx).generate(request({ templateId: ctx.unique("no-such-template") })), Code.NotFound),
  },
  ...invalidArgumentChecks("Generate", invalid, (ctx, request) => generator(ctx).generate(request)),
];

export const generatorContract: Contract = {
  name: "generator",
  service: GeneratorService,
  probe: (ctx) => generator(ctx).listModels({}, { timeoutMs: 5000 }),
  checks,
};
