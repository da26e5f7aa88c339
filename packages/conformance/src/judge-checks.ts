/**
 * JudgeService's promises (proto/ragtune/judge/v1/judge.proto), checked in SCORING_MODE_REFERENCE: the one mode
 * that needs no judge model, so every implementation can be checked anywhere. Model modes are the
 * implementation's own business (an implementation without them answers UNIMPLEMENTED or FAILED_PRECONDITION).
 */
import type { Message, MessageInitShape } from "@bufbuild/protobuf";
import { BatchScoredSchema } from "@ragtune/contracts/events";
import {
  type CriterionScore,
  JudgeService,
  type ScoreBatchRequestSchema,
  type ScoreItemSchema,
  type ScoreRequestSchema,
  ScoringMode,
} from "@ragtune/contracts/judge";
import type { Check, CheckContext, Contract } from "./check.js";
import { type BadInput, invalidArgumentChecks } from "./bad-input.js";
import { commonChecks } from "./common-checks.js";
import { expectEvent } from "./events.js";
import { ensure, offered } from "./expect.js";

type ItemInit = Exclude<MessageInitShape<typeof ScoreItemSchema>, Message>;
type ScoreInit = Exclude<MessageInitShape<typeof ScoreRequestSchema>, Message>;
type BatchInit = Exclude<MessageInitShape<typeof ScoreBatchRequestSchema>, Message>;

const GOLD = "the kinase PX7";
const item = (overrides: Partial<ItemInit> = {}): ItemInit => ({
  itemId: "conformance-1",
  question: "Which protein does alvestin inhibit?",
  answer: "Alvestin inhibits the kinase PX7.",
  referenceAnswers: [GOLD],
  referenceEvidence: ["The compound alvestin inhibits the kinase PX7 with high selectivity."],
  ...overrides,
});
const reference = { mode: ScoringMode.REFERENCE, repeats: 3 };
const score = (overrides: Partial<ScoreInit> = {}): ScoreInit => ({ item: item(), judge: reference, ...overrides });
const batch = (overrides: Partial<BatchInit> = {}): BatchInit => ({
  items: [
    item({ itemId: "a" }),
    item({ itemId: "b", answer: "Bananas are yellow." }),
    item({ itemId: "c", answer: "It targets PX7." }),
  ],
  judge: reference,
  ...overrides,
});

/** Repeats indexed 0..R−1, spread over the successful repeats, scores on the 1..5 scale. */
function checkCriterionScore(where: string, s: CriterionScore): void {
  s.repeats.forEach((r, i) => {
    ensure(r.repeatIndex === i, `${where}: repeats[${i}].repeat_index is ${r.repeatIndex}, not ${i}`);
    if (!r.failed) ensure(r.score >= 1 && r.score <= 5, `${where}: repeat ${i} scored ${r.score}, outside 1..5`);
  });
  const ok = s.repeats.filter((r) => !r.failed);
  ensure(s.failedRepeats === s.repeats.length - ok.length, `${where}: failed_repeats ${s.failedRepeats} miscounts`);
  ensure(s.spread && s.spread.n === ok.length, `${where}: spread.n ${s.spread?.n} ≠ ${ok.length} successful repeats`);
  if (ok.length) {
    const mean = ok.reduce((sum, r) => sum + r.score, 0) / ok.length;
    ensure(Math.abs(s.spread.mean - mean) < 1e-9, `${where}: spread.mean ${s.spread.mean} ≠ mean of repeats ${mean}`);
    ensure(s.spread.ci95Low <= s.spread.mean && s.spread.mean <= s.spread.ci95High, `${where}: CI excludes the mean`);
  }
}

/** Bad inputs the proto documents, each answered INVALID_ARGUMENT naming the field: one row each. */
const invalidScore: BadInput<ScoreInit>[] = [
  ["judge is required", "judge", { item: item() }],
  ["judge.mode is required (UNSPECIFIED)", "judge.mode", score({ judge: { repeats: 1 } })],
  ["judge.repeats at most 100", "judge.repeats", score({ judge: { ...reference, repeats: 101 } })],
  ["judge.temperature within 0..2", "judge.temperature", score({ judge: { ...reference, temperature: 2.5 } })],
  [
    "judge.greedy refused with repeats > 1 in SINGLE",
    "judge.greedy",
    score({ judge: { mode: ScoringMode.SINGLE, repeats: 3, greedy: true } }),
  ],
  [
    "judge.greedy refused with a temperature > 0",
    "judge.greedy",
    score({ judge: { mode: ScoringMode.SINGLE, repeats: 1, greedy: true, temperature: 0.7 } }),
  ],
  ["item is required", "item", { judge: reference }],
  ["item.question must not be empty", "item.question", score({ item: item({ question: "" }) })],
  [
    "reference mode needs a reference answer or evidence",
    "item.reference_answers",
    score({ item: item({ referenceAnswers: [], referenceEvidence: [] }) }),
  ],
  [
    "item.reference_answers at most 100",
    "item.reference_answers",
    score({ item: item({ referenceAnswers: Array.from({ length: 101 }, (_, i) => `answer ${i}`) }) }),
  ],
  ["criteria: an unknown name", "criteria[0]", score({ criteria: ["no-such-criterion"] })],
  ["criteria: a name given twice", "criteria[1]", score({ criteria: ["accuracy", "accuracy"] })],
  [
    "custom_criteria[].name: 1..64 of [a-z0-9_-]",
    "custom_criteria[0].name",
    score({ customCriteria: [{ name: "Bad Name!", definition: "x", anchors: [{ score: 1, description: "x" }] }] }),
  ],
];

const invalidBatch: BadInput<BatchInit>[] = [
  ["items: at least 1", "items", batch({ items: [] })],
  ["concurrency within 0..256", "concurrency", batch({ concurrency: 257 })],
  ["items[i] validated like Score's item", "items[1].question", batch({ items: [item(), item({ question: "" })] })],
  ["compare_judge validated like judge", "compare_judge.mode", batch({ compareJudge: { repeats: 1 } })],
  [
    "human_ratings[].item_id names an item of the batch",
    "human_ratings[0].item_id",
    batch({ humanRatings: [{ itemId: "nope", criterion: "accuracy", score: 3 }] }),
  ],
  [
    "human_ratings[].criterion is one of the batch's",
    "human_ratings[0].criterion",
    batch({ humanRatings: [{ itemId: "a", criterion: "fluency", score: 3 }] }),
  ],
  [
    "human_ratings[].score on the 1..5 scale",
    "human_ratings[0].score",
    batch({ humanRatings: [{ itemId: "a", criterion: "accuracy", score: 7 }] }),
  ],
];

const judge = (ctx: CheckContext) => ctx.client(JudgeService);

const checks: Check[] = [
  ...commonChecks(JudgeService),
  {
    name: "ListCriteria: offers accuracy and completeness with 1..5 anchors",
    async run(ctx) {
      const { criteria } = await judge(ctx).listCriteria({});
      for (const name of ["accuracy", "completeness"]) {
        const c = criteria.find((x) => x.name === name);
        ensure(c, `no "${name}" among [${criteria.map((x) => x.name).join(", ")}]`);
        ensure(c.definition, `"${name}" has no definition`);
        ensure(c.anchors.length > 0, `"${name}" has no anchors`);
        for (const a of c.anchors) ensure(a.score >= 1 && a.score <= 5, `"${name}" anchor ${a.score} outside 1..5`);
      }
    },
  },
  {
    name: "Score (reference): default criteria in order, one repeat indexed 0, named reference-scorer",
    async run(ctx) {
      const res = await judge(ctx).score(score());
      ensure(res.itemId === "conformance-1", `item_id echoed as "${res.itemId}"`);
      const names = res.scores.map((s) => s.criterion);
      ensure(names.join() === "accuracy,completeness", `criteria [${names}] not [accuracy, completeness]`);
      for (const s of res.scores) {
        checkCriterionScore(s.criterion, s);
        ensure(s.repeats.length === 1, `${s.criterion}: ${s.repeats.length} repeats; REFERENCE records one`);
        ensure(s.mode === ScoringMode.REFERENCE, `${s.criterion}: mode ${ScoringMode[s.mode]}`);
        ensure(s.judgeModel === "reference-scorer", `${s.criterion}: judge_model "${s.judgeModel}"`);
      }
    },
  },
  {
    name: "Score (reference): criteria come back in request order",
    async run(ctx) {
      const res = await judge(ctx).score(score({ criteria: ["completeness", "accuracy"] }));
      const names = res.scores.map((s) => s.criterion).join();
      ensure(names === "completeness,accuracy", `got [${names}]`);
    },
  },
  {
    name: "Score (reference): the gold answer scores 5 and above an unrelated answer",
    async run(ctx) {
      const gold = await judge(ctx).score(score({ item: item({ answer: GOLD }) }));
      const wrong = await judge(ctx).score(score({ item: item({ answer: "Bananas are yellow." }) }));
      for (const [i, s] of gold.scores.entries()) {
        const g = s.spread!.mean;
        const w = wrong.scores[i].spread!.mean;
        ensure(Math.abs(g - 5) < 1e-9, `${s.criterion}: the gold answer itself scored ${g}`);
        ensure(g > w, `${s.criterion}: gold ${g} not above unrelated ${w}`);
      }
    },
  },
  {
    name: "Score (reference): takes the best match over every reference answer",
    async run(ctx) {
      const one = await judge(ctx).score(score({ item: item({ answer: "PX7", referenceAnswers: ["PX7"] }) }));
      const many = await judge(ctx).score(
        score({ item: item({ answer: "PX7", referenceAnswers: ["receptor QL2 of mice", "PX7"] }) }),
      );
      for (const [i, s] of many.scores.entries()) {
        const want = one.scores[i].spread!.mean;
        ensure(s.spread!.mean === want, `${s.criterion}: ${s.spread!.mean} with a second gold answer, ${want} alone`);
      }
    },
  },
  {
    name: "Score (reference): the older reference_answer counts as one more gold answer",
    async run(ctx) {
      const viaList = await judge(ctx).score(score());
      const viaOld = await judge(ctx).score(score({ item: item({ referenceAnswers: [], referenceAnswer: GOLD }) }));
      const means = (r: typeof viaList) => r.scores.map((s) => s.spread!.mean).join();
      ensure(
        means(viaOld) === means(viaList),
        `reference_answer scored [${means(viaOld)}], reference_answers [${means(viaList)}]`,
      );
    },
  },
  {
    name: "Score (reference): deterministic, the same request scores the same",
    async run(ctx) {
      const [a, b] = [await judge(ctx).score(score()), await judge(ctx).score(score())];
      const means = (r: typeof a) => r.scores.map((s) => s.spread!.mean).join();
      ensure(means(a) === means(b), `${means(a)} then ${means(b)}`);
    },
  },
  {
    name: "Score (SINGLE, default model): R repeats indexed 0..R−1, or the mode declared not offered",
    async run(ctx) {
      const res = await offered(judge(ctx).score(score({ judge: { mode: ScoringMode.SINGLE, repeats: 3 } })), true);
      for (const s of res.scores) {
        ensure(s.repeats.length === 3, `${s.criterion}: ${s.repeats.length} repeats, asked for 3`);
        checkCriterionScore(s.criterion, s);
      }
    },
  },
  ...invalidArgumentChecks("Score", invalidScore, (ctx, request) => judge(ctx).score(request)),
  {
    name: "ScoreBatch (reference): one result per item in request order, reliability counts the items",
    async run(ctx) {
      const res = await judge(ctx).scoreBatch(batch());
      const ids = res.results.map((r) => r.itemId).join();
      ensure(ids === "a,b,c", `results for [${ids}], not [a,b,c]`);
      for (const r of res.results) for (const s of r.scores) checkCriterionScore(`${r.itemId}/${s.criterion}`, s);
      ensure(res.reliability, "no reliability report");
      ensure(res.reliability.items === 3, `reliability.items ${res.reliability.items}, not 3`);
      ensure(res.compareResults.length === 0, "compare_results without compare_judge");
      // The deprecated calibration field carries the same figures for older clients.
      ensure(res.calibration?.items === res.reliability.items, "calibration.items differs from reliability.items");
    },
  },
  {
    name: "ScoreBatch (reference): a batch scores each item as Score does",
    async run(ctx) {
      const res = await judge(ctx).scoreBatch(batch());
      const single = await judge(ctx).score(score({ item: item({ itemId: "b", answer: "Bananas are yellow." }) }));
      const got = res.results[1].scores.map((s) => s.spread!.mean).join();
      const want = single.scores.map((s) => s.spread!.mean).join();
      ensure(got === want, `batch item b scored [${got}], Score gives [${want}]`);
    },
  },
  {
    name: "ScoreBatch: omit_raw_output leaves raw_output and rationale out of every repeat",
    async run(ctx) {
      const res = await judge(ctx).scoreBatch(batch({ omitRawOutput: true }));
      for (const r of res.results) {
        for (const s of r.scores) {
          for (const repeat of s.repeats) {
            ensure(!repeat.rawOutput && !repeat.rationale, `${r.itemId}/${s.criterion}: raw output or rationale sent`);
          }
        }
      }
    },
  },
  {
    name: "ScoreBatch: human_ratings give human_agreement for the rated criterion, over the rated items",
    async run(ctx) {
      const humanRatings = [
        { itemId: "a", criterion: "accuracy", score: 5 },
        { itemId: "b", criterion: "accuracy", score: 1 },
        { itemId: "c", criterion: "accuracy", score: 3, rater: "r1" },
        { itemId: "c", criterion: "accuracy", score: 4, rater: "r2" },
      ];
      const res = await judge(ctx).scoreBatch(batch({ humanRatings }));
      const agreement = res.reliability!.humanAgreement;
      ensure(agreement.length === 1, `${agreement.length} human_agreement entries, want 1 (accuracy)`);
      ensure(agreement[0].criterion === "accuracy", `criterion "${agreement[0].criterion}"`);
      ensure(agreement[0].items === 3, `over ${agreement[0].items} items, not 3`);
      // The gold answer (a) above the wrong one (b), as the ratings say: a positive rank correlation.
      ensure(agreement[0].spearman > 0, `spearman ${agreement[0].spearman} with ratings that order the items alike`);
    },
  },
  ...invalidArgumentChecks("ScoreBatch", invalidBatch, (ctx, request) => judge(ctx).scoreBatch(request)),
  {
    name: "events: ScoreBatch announces ragtune.judge.batch.scored with its item count",
    async run(ctx) {
      const marker = batch({ items: Array.from({ length: 7 }, (_, i) => item({ itemId: `event-${i}` })) });
      await expectEvent(
        ctx,
        "ragtune.judge.batch.scored",
        BatchScoredSchema,
        () => judge(ctx).scoreBatch(marker),
        (event) => event.items === 7,
      );
    },
  },
];

export const judgeContract: Contract = {
  name: "judge",
  service: JudgeService,
  probe: (ctx) => judge(ctx).listCriteria({}, { timeoutMs: 5000 }),
  checks,
};
