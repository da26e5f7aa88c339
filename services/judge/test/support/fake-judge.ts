/**
 * A judge model for the generator's fake OpenAI-compatible server: it answers the steps prompt with numbered
 * steps, the form prompt with a short rationale and "Score: N", and the score-only form with the digit alone;
 * N is drawn per choice from a distribution centred on the answer's true quality, with logprobs for the score
 * token (the score-only form's distribution is the same for every choice of one prompt, as a real model's is). Every choice is an independent
 * draw from a seeded generator, so repeats vary as a real sampled judge's do and runs are reproducible.
 */
import type { FakeGenerationInput, FakeGenerationOutput, FakeResponder } from "@ragtune/testing";
import type { TokenLogprob } from "@ragtune/llm";
import { seededRandom } from "@ragtune/runtime";
import { scoreAgainstReference } from "../../src/reference-scorer.js";

export interface FakeJudgeOptions {
  seed?: number;
  /**
   * True quality 1..5 of the answer in a form prompt; default: reference-scorer completeness of the answer
   * against every reference answer the prompt lists.
   */
  quality?: (form: { question: string; answer: string; references: string[] }) => number;
  /** Spread of the judge's score around the true quality, in scale points. Default 0.7. */
  noise?: number;
  /** Called per form choice in arrival order; returning a string makes that the raw output instead. */
  override?: (formCall: number, input: FakeGenerationInput) => string | undefined;
  /**
   * Score-only form: probability mass the score position puts on words instead of the scale (" The",
   * " Accuracy"), 0..1. Default 0.
   */
  offScaleMass?: number;
}

export interface FakeJudge {
  respond: FakeResponder;
  /** Form choices produced so far. */
  readonly formCalls: number;
  readonly stepsCalls: number;
}

function section(prompt: string, start: string, ends: string[]): string {
  const at = prompt.indexOf(start);
  if (at < 0) return "";
  const rest = prompt.slice(at + start.length);
  const end = Math.min(...ends.map((e) => rest.indexOf(e)).filter((i) => i >= 0), rest.length);
  return rest.slice(0, end).trim();
}

function plainTokens(text: string): { tokens: string[]; logprobs: TokenLogprob[] } {
  const tokens = text.split(/(?=[ \n])/).filter(Boolean);
  return { tokens, logprobs: tokens.map((token) => ({ token, logprob: -0.05, top: [{ token, logprob: -0.05 }] })) };
}

export function createFakeJudge(options: FakeJudgeOptions = {}): FakeJudge {
  const random = seededRandom(options.seed ?? 7);
  const noise = options.noise ?? 0.7;
  let formCalls = 0;
  let stepsCalls = 0;
  const quality =
    options.quality ??
    ((form) =>
      form.references.length
        ? scoreAgainstReference({ answer: form.answer, referenceAnswers: form.references, referenceEvidence: [] })
            .completeness
        : 3);

  /** A deterministic distribution at the score position (as a model's is for one prompt), a sampled digit. */
  const scoreOnly = (q: number): FakeGenerationOutput => {
    const weights = [1, 2, 3, 4, 5].map((s) => Math.exp(-((s - q) ** 2) / (2 * 0.8 ** 2)));
    const total = weights.reduce((a, b) => a + b, 0);
    const onScale = 1 - (options.offScaleMass ?? 0);
    const top = [
      ...[1, 2, 3, 4, 5].map((s) => ({ token: String(s), p: (onScale * weights[s - 1]) / total })),
      ...(onScale < 1 ? [{ token: " The", p: 1 - onScale }] : []),
    ]
      .filter((t) => t.p > 0)
      .sort((a, b) => b.p - a.p);
    let u = random();
    let chosen = top[top.length - 1];
    for (const t of top) {
      u -= t.p;
      if (u <= 0) {
        chosen = t;
        break;
      }
    }
    return {
      tokens: [chosen.token],
      logprobs: [
        {
          token: chosen.token,
          logprob: Math.log(chosen.p),
          top: top.map((t) => ({ token: t.token, logprob: Math.log(t.p) })),
        },
      ],
    };
  };

  const respond: FakeResponder = (input): FakeGenerationOutput => {
    if (input.prompt.includes("Write the evaluation steps")) {
      stepsCalls++;
      return plainTokens(
        "1. Read the question and note what it asks for.\n2. Read the answer and compare it with the question and reference.\n3. Assign a score from 1 to 5 using the scale anchors.",
      );
    }
    const call = formCalls++;
    const override = options.override?.(call, input);
    if (override !== undefined) return plainTokens(override);
    const many = section(input.prompt, "Reference answers (each one is a correct answer):\n", ["\n\nAnswer:"]);
    const q = quality({
      question: section(input.prompt, "Question:\n", ["\n\n"]),
      answer: section(input.prompt, "Answer:\n", ["\n\nEvaluation Form"]),
      references: many
        ? many.split("\n").map((line) => line.replace(/^- /, ""))
        : [section(input.prompt, "Reference answer:\n", ["\n\nAnswer:", "\nAnswer:"])].filter(Boolean),
    });
    if (input.prompt.includes("Evaluation Form (score ONLY")) return scoreOnly(q);
    // This choice's "reading" of the answer shifts the centre; the score token is then drawn around it.
    const centre = q + (random() - 0.5) * 2 * noise;
    const weights = [1, 2, 3, 4, 5].map((s) => Math.exp(-((s - centre) ** 2) / (2 * 0.6 ** 2)));
    const total = weights.reduce((a, b) => a + b, 0);
    const probs = weights.map((w) => w / total);
    let u = random();
    let chosen = 5;
    for (let s = 1; s <= 5; s++) {
      u -= probs[s - 1];
      if (u <= 0) {
        chosen = s;
        break;
      }
    }
    const rationale = plainTokens(
      `The answer was checked against the question; quality about ${centre.toFixed(1)}.\nScore:`,
    );
    const digit = String(chosen);
    const top = [1, 2, 3, 4, 5]
      .map((s) => ({ token: ` ${s}`, logprob: Math.log(Math.max(probs[s - 1], 1e-9)) }))
      .sort((a, b) => b.logprob - a.logprob);
    return {
      tokens: [...rationale.tokens, ` ${digit}`],
      logprobs: [...rationale.logprobs, { token: ` ${digit}`, logprob: Math.log(probs[chosen - 1]), top }],
    };
  };

  return {
    respond,
    get formCalls() {
      return formCalls;
    },
    get stepsCalls() {
      return stepsCalls;
    },
  };
}
