/**
 * A planted effect for the fake OpenAI-compatible server, so a test knows the truth the pipeline should recover.
 * As the generator's model, it answers a known question correctly with probability p for the base model and
 * p + lift for a fine-tuned one (a hosted fine-tune or a LoRA adapter, each with its own lift). For half of the
 * questions (chosen per run) a tuned model's draw is the base model's, for the other half its own, so base and tuned
 * answers are correlated as a real fine-tune's are, yet a lift of 0 still changes which questions are answered
 * correctly (the null is not a copy of the base model). As the judge model, it writes evaluation steps and scores an answer from the
 * truth: `correctScore` when it matches a reference answer in the form, else `wrongScore`, plus noise of -1 or +1
 * point with probability `noise` each (standard deviation √(2·noise)). The expected paired difference a fine-tune
 * makes is therefore lift × (correctScore − wrongScore) points, on every criterion.
 */
import { createHash } from "node:crypto";
import { defaultResponder, type FakeGenerationInput, type FakeResponder } from "./fake-openai-server.js";

export interface PlantedItem {
  question: string;
  /** What a correct answer says (contained in, or containing, a reference answer). */
  answer: string;
  /** What a wrong answer says (matching no reference answer). */
  wrongAnswer: string;
}

export interface PlantedRun {
  /** Makes the run's draws (which questions are answered correctly, the judge's noise) its own. */
  seed: number;
  /** p: probability that the base model answers a question correctly. */
  baseAccuracy: number;
  /** Probability added by a hosted fine-tune and by a LoRA adapter. */
  lift: { hosted: number; lora: number };
}

export interface PlantedEffectOptions {
  items: readonly PlantedItem[];
  /** Model name the judge asks for; every other model name is treated as the generator's. */
  judgeModel: string;
  /** Mean judge score of a correct answer. Default 4. */
  correctScore?: number;
  /** Mean judge score of a wrong answer. Default 2. */
  wrongScore?: number;
  /** Probability of each of -1 and +1 point of judge noise. Default 0.25. */
  noise?: number;
}

export interface PlantedEffect {
  respond: FakeResponder;
  /** Starts a run: later requests draw from its seed and probabilities. */
  setRun(run: PlantedRun): void;
  /** The expected paired difference, in score points, of a fine-tune that adds `lift` accuracy. */
  pointsFor(lift: number): number;
  /** Answers given so far in this run, by whether they were correct. */
  readonly answered: { correct: number; wrong: number };
}

/** A uniform number in [0, 1) from a text. */
function unit(text: string): number {
  return createHash("sha256").update(text).digest().readUInt32BE(0) / 2 ** 32;
}

const RUN_TAG = / \(planted run [^)]*\)$/;
const STEPS = "1. Read the question.\n2. Compare the answer with the reference answers.\n3. Score the match.";

function between(text: string, start: string, end: string): string | undefined {
  const from = text.lastIndexOf(start);
  if (from < 0) return undefined;
  const rest = text.slice(from + start.length);
  const to = rest.indexOf(end);
  return (to < 0 ? rest : rest.slice(0, to)).trim();
}

export function createPlantedEffect(options: PlantedEffectOptions): PlantedEffect {
  const correctScore = options.correctScore ?? 4;
  const wrongScore = options.wrongScore ?? 2;
  const noise = options.noise ?? 0.25;
  if (Math.min(correctScore, wrongScore) - 1 < 1 || Math.max(correctScore, wrongScore) + 1 > 5) {
    throw new Error("scores ± 1 point of noise must stay on the 1..5 scale, or clipping would bias the truth");
  }
  let run: PlantedRun = { seed: 0, baseAccuracy: 0.5, lift: { hosted: 0, lora: 0 } };
  /** Identical judge requests (independent repeats) each get the next draw of their own sequence. */
  let judgeCalls = new Map<string, number>();
  const answered = { correct: 0, wrong: 0 };

  function generate(input: FakeGenerationInput) {
    const item = options.items.find((i) => input.prompt.includes(i.question));
    // Not an evaluation question (the generator's LoRA canary, say): the default answer, which differs by model.
    if (!item) return defaultResponder(input);
    const kind = input.fineTunedModel ? "hosted" : input.adapter ? "lora" : "base";
    const lift = kind === "base" ? 0 : run.lift[kind];
    const shared = kind === "base" || unit(`${run.seed}\n${item.question}\nshared`) < 0.5;
    const draw = unit(`${run.seed}\n${item.question}${shared ? "" : `\n${kind}`}`);
    const correct = draw < run.baseAccuracy + lift;
    answered[correct ? "correct" : "wrong"]++;
    // The tag keeps runs and models apart in the judge's score cache, so every answer gets its own judge noise.
    return { tokens: [`${correct ? item.answer : item.wrongAnswer} (planted run ${run.seed} ${kind})`] };
  }

  function judge(input: FakeGenerationInput) {
    if (input.prompt.includes("Write 3 to 6 steps")) return { tokens: [STEPS] };
    const answer = (between(input.prompt, "\nAnswer:\n", "\nEvaluation Form") ?? "").replace(RUN_TAG, "");
    const references = (
      between(input.prompt, "Reference answers (each one is a correct answer):\n", "\nAnswer:\n") ??
      between(input.prompt, "Reference answer:\n", "\nAnswer:\n") ??
      ""
    )
      .split("\n")
      .map((line) => line.replace(/^- /, "").trim().toLowerCase())
      .filter(Boolean);
    const said = answer.toLowerCase();
    const correct = said !== "" && references.some((r) => r.includes(said) || said.includes(r));
    const key = `${input.choiceIndex}\n${input.prompt}`;
    // A seeded request samples as a seeded vLLM does: the same seed, prompt and choice draw the same; unseeded
    // ones draw anew each time the same prompt is asked.
    const seed = typeof input.body.seed === "number" ? `seed ${input.body.seed}` : undefined;
    const call = judgeCalls.get(key) ?? 0;
    if (seed === undefined) judgeCalls.set(key, call + 1);
    const draw = unit(`${run.seed}\n${seed ?? call}\n${key}`);
    const score = (correct ? correctScore : wrongScore) + (draw < noise ? -1 : draw < 2 * noise ? 1 : 0);
    const rationale = correct ? "The answer matches a reference answer." : "The answer matches no reference answer.";
    return { tokens: [`${rationale}\nScore: ${score}`] };
  }

  return {
    respond: (input) => (input.model === options.judgeModel ? judge(input) : generate(input)),
    setRun(next) {
      run = next;
      judgeCalls = new Map();
      answered.correct = 0;
      answered.wrong = 0;
    },
    pointsFor: (lift) => lift * (correctScore - wrongScore),
    answered,
  };
}
