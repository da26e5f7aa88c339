import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { RepeatStrategy, type ScoreItem, ScoreItemSchema, ScoringMode } from "@ragtune/contracts/judge";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ScoreRequestSchema } from "@ragtune/contracts/judge";
import { type InProcessJudgeHarness, startJudgeHarness } from "../test/support/judge-harness.js";
import { FORM_PROMPT_HASH, SCORE_ONLY_FORM_PROMPT_HASH } from "./prompts.js";

const item = (id: string, answer: string, reference = "Paris"): ScoreItem =>
  create(ScoreItemSchema, {
    itemId: id,
    question: "What is the capital of France?",
    answer,
    referenceAnswer: reference,
    contexts: ["Paris is the capital and largest city of France."],
  });

type ScoreInit = MessageInitShape<typeof ScoreRequestSchema>;
const logprobJudge = { mode: ScoringMode.LOGPROB_WEIGHTED };

async function rejects(promise: Promise<unknown>, code: Code, message: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.rawMessage, message);
    return true;
  });
}

describe("JudgeService (in-memory transport, real HTTP client, fake judge server)", () => {
  let h: InProcessJudgeHarness;
  before(async () => {
    h = await startJudgeHarness();
  });
  after(() => h.close());

  it("scores logprob-weighted from a score-only form: one request and one repeat, weighted, recorded, cached", async () => {
    const request: ScoreInit = {
      item: item("q1", "Paris is the capital."),
      criteria: ["accuracy"],
      judge: logprobJudge,
    };
    const before = h.chatRequests();
    const first = await h.rpc.score(request);
    const score = first.scores[0];
    assert.equal(first.itemId, "q1");
    assert.equal(first.stepsRequests, 1, "steps are written once");
    // The score token's distribution is the same for every request of one prompt: more repeats would be copies.
    assert.equal(h.chatRequests() - before, 2, "1 steps request + 1 form request");
    const form = h.server.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!.body!;
    const prompt = (form.messages as Array<{ content: string }>)[0].content;
    assert.match(prompt, /Evaluation Form \(score ONLY, one integer from 1 to 5, nothing else\):\n\n- accuracy:$/);
    assert.doesNotMatch(prompt, /rationale/i);
    assert.equal(form.logprobs, true);
    assert.equal(form.top_logprobs, 10);
    assert.equal(form.max_tokens, 4);
    assert.equal(score.mode, ScoringMode.LOGPROB_WEIGHTED);
    assert.equal(score.judgeModel, "judge-model");
    assert.equal(score.promptHash, SCORE_ONLY_FORM_PROMPT_HASH);
    assert.notEqual(score.promptHash, FORM_PROMPT_HASH);
    assert.equal(score.minScoreMass, 0.5);
    assert.equal(score.temperature, 1);
    assert.match(score.stepsHash, /^[0-9a-f]{64}$/);
    assert.equal(score.evaluationSteps.length, 3);
    assert.equal(score.repeats.length, 1);
    const [r] = score.repeats;
    assert.equal(r.failed, false);
    assert.equal(r.requests, 1);
    assert.equal(r.rationale, "", "the score-only form has no rationale");
    assert.ok(r.scoreMass > 0.99, "the fake puts all mass on the scale");
    assert.ok(r.score > 1 && r.score < 5 && !Number.isInteger(r.score), `weighted score ${r.score}`);
    assert.equal(score.spread?.n, 1);
    assert.equal(score.requests, 1);

    const again = await h.rpc.score(request);
    assert.equal(h.chatRequests() - before, 2, "a re-run makes no request");
    assert.equal(again.scores[0].cachedRepeats, 1);
    assert.equal(again.scores[0].repeats[0].score, r.score);
  });

  it("fails, not guesses, a logprob repeat whose mass on 1..5 is below the minimum, without retrying it", async () => {
    const low = await startJudgeHarness({ fake: { offScaleMass: 0.7 }, minScoreMass: 0.5 });
    try {
      const before = low.chatRequests();
      const result = await low.rpc.score({ item: item("m", "Paris"), criteria: ["accuracy"], judge: logprobJudge });
      const s = result.scores[0];
      assert.equal(
        low.chatRequests() - before,
        2,
        "1 steps + 1 form request: the same distribution is not asked for again",
      );
      assert.equal(s.failedRepeats, 1);
      assert.equal(s.spread?.n, 0, "no score from a failed repeat");
      const [r] = s.repeats;
      assert.equal(r.failed, true);
      assert.equal(r.score, 0);
      assert.ok(Math.abs(r.scoreMass - 0.3) < 1e-6, `mass ${r.scoreMass}`);
      assert.match(r.error, /probability mass on the scale values 1\.\.5 .* is 0\.300, below the minimum 0\.5/);
    } finally {
      await low.close();
    }
  });

  it("refuses logprob-weighted repeats > 1 naming judge.repeats and why, before any request", async () => {
    const before = h.chatRequests();
    await rejects(
      h.rpc.score({ item: item("lp", "Paris"), judge: { mode: ScoringMode.LOGPROB_WEIGHTED, repeats: 10 } }),
      Code.InvalidArgument,
      /^judge\.repeats: SCORING_MODE_LOGPROB_WEIGHTED takes 1 repeat, got 10: logprob-weighted form filling is deterministic per request/,
    );
    const ok = await h.rpc.score({
      item: item("lp", "Paris"),
      criteria: ["accuracy"],
      judge: { mode: ScoringMode.LOGPROB_WEIGHTED, repeats: 1 },
    });
    assert.equal(ok.scores[0].repeats.length, 1);
    assert.equal(h.chatRequests() - before, 1, "the refused call sent nothing; repeats 1 sent one form request");
  });

  it("shares one request with n = R per criterion by default where the backend honours n, and says so", async () => {
    const before = h.chatRequests();
    const { results } = await h.rpc.scoreBatch({
      items: [item("d1", "Paris, France."), item("d2", "Toulouse."), item("d3", "Paris, on the Seine.")],
      judge: { mode: ScoringMode.SINGLE, repeats: 10 },
    });
    const steps = results.reduce((sum, r) => sum + r.stepsRequests, 0);
    const forms = h.server.requests.filter((r) => r.path === "/v1/chat/completions").slice(before + steps);
    assert.equal(forms.length, 3 * 2, "2 requests per answer for 2 criteria × R = 10");
    assert.ok(forms.every((r) => r.body?.n === 10 && r.body?.temperature === 1));
    for (const s of results.flatMap((r) => r.scores)) {
      assert.equal(s.repeatStrategy, RepeatStrategy.SHARED_REQUEST);
      assert.match(s.repeatStrategyReason, /^default: backend 'openai' honours n/);
      assert.equal(s.requests, 1);
      assert.equal(s.spread?.n, 10);
    }
  });

  it("samples repeats at temperature 1 by default: one request with n = R, every choice an independent draw", async () => {
    const result = await h.rpc.score({
      item: item("q2", "Lyon."),
      judge: { mode: ScoringMode.SINGLE, repeats: 10, repeatStrategy: RepeatStrategy.SHARED_REQUEST },
    });
    assert.deepEqual(
      result.scores.map((s) => s.criterion),
      ["accuracy", "completeness"],
    );
    for (const s of result.scores) {
      assert.equal(s.requests, 1);
      assert.equal(s.repeatStrategy, RepeatStrategy.SHARED_REQUEST);
      assert.equal(s.temperature, 1, "the temperature used is recorded");
      assert.equal(s.spread?.n, 10);
      assert.equal(s.repeats[0].requests, 1);
      assert.ok(s.repeats.slice(1).every((r) => r.requests === 0));
    }
    const forms = h.server.requests.filter((r) => r.body?.n === 10 && JSON.stringify(r.body).includes("Lyon."));
    assert.equal(forms.length, 2);
    assert.ok(forms.every((r) => r.body?.temperature === 1));
  });

  it("n-sample: each repeat is the mean of its samples at temperature 1 by default", async () => {
    const result = await h.rpc.score({
      item: item("q3", "Paris"),
      criteria: ["completeness"],
      judge: { mode: ScoringMode.N_SAMPLE, repeats: 3, samples: 5 },
    });
    const s = result.scores[0];
    assert.equal(s.temperature, 1);
    assert.equal(s.requests, 1, "the 3 repeats × 5 samples share one request with n = 15 by default");
    for (const r of s.repeats) {
      assert.equal(r.samples.length, 5);
      assert.ok(r.samples.every(Number.isInteger));
      assert.ok(Math.abs(r.score - r.samples.reduce((a, b) => a + b, 0) / 5) < 1e-12);
    }
  });

  it("scores with the reference scorer without any request, named as such", async () => {
    const before = h.chatRequests();
    const result = await h.rpc.score({
      item: item("q4", "It is Paris."),
      judge: { mode: ScoringMode.REFERENCE },
    });
    assert.equal(h.chatRequests(), before);
    for (const s of result.scores) {
      assert.equal(s.judgeModel, "reference-scorer");
      assert.equal(s.mode, ScoringMode.REFERENCE);
      assert.equal(s.repeats.length, 1);
      assert.equal(s.spread?.mean, s.repeats[0].score);
    }
  });

  it("uses a custom criterion's given steps without asking the model for steps", async () => {
    const result = await h.rpc.score({
      item: item("q5", "Paris"),
      criteria: ["conciseness"],
      customCriteria: [
        {
          name: "conciseness",
          definition: "How briefly the answer says what it must.",
          anchors: [
            { score: 1, description: "rambling" },
            { score: 5, description: "as short as possible" },
          ],
          evaluationSteps: ["Count the words.", "Judge whether any could go."],
        },
      ],
      judge: { mode: ScoringMode.SINGLE, repeats: 2 },
    });
    assert.equal(result.stepsRequests, 0);
    assert.deepEqual(result.scores[0].evaluationSteps, ["Count the words.", "Judge whether any could go."]);
    assert.ok(result.scores[0].repeats.every((r) => Number.isInteger(r.score)));
  });

  it("rejects bad requests with INVALID_ARGUMENT naming the field", async () => {
    const ok: ScoreInit = { item: item("x", "Paris"), judge: logprobJudge };
    await rejects(
      h.rpc.score({ ...ok, criteria: ["accuracy", "x"] }),
      Code.InvalidArgument,
      /^criteria\[1\]: unknown criterion 'x'$/,
    );
    await rejects(h.rpc.score({ ...ok, judge: undefined }), Code.InvalidArgument, /^judge: is required/);
    await rejects(h.rpc.score({ ...ok, judge: { repeats: 2 } }), Code.InvalidArgument, /^judge\.mode: must be set/);
    await rejects(
      h.rpc.score({ ...ok, judge: { ...logprobJudge, repeats: 101 } }),
      Code.InvalidArgument,
      /^judge\.repeats:/,
    );
    await rejects(
      h.rpc.score({ ...ok, judge: { ...logprobJudge, temperature: 3 } }),
      Code.InvalidArgument,
      /^judge\.temperature:/,
    );
    await rejects(
      h.rpc.score({ ...ok, judge: { mode: 99 as ScoringMode } }),
      Code.InvalidArgument,
      /^judge\.mode: unknown/,
    );
    await rejects(
      h.rpc.score({ ...ok, item: { question: " ", answer: "a" } }),
      Code.InvalidArgument,
      /^item\.question:/,
    );
    await rejects(
      h.rpc.score({ ...ok, item: { question: "q", answer: "a" }, judge: { mode: ScoringMode.REFERENCE } }),
      Code.InvalidArgument,
      /^item\.reference_answers:/,
    );
    await rejects(
      h.rpc.score({
        ...ok,
        criteria: ["tone"],
        customCriteria: [{ name: "tone", definition: "d", anchors: [{ score: 6, description: "x" }] }],
      }),
      Code.InvalidArgument,
      /^custom_criteria\[0\]\.anchors\[0\]\.score:/,
    );
    await rejects(
      h.rpc.score({ ...ok, judge: { ...logprobJudge, model: { baseModel: "m", backend: "nope" } } }),
      Code.InvalidArgument,
      /^judge\.model\.backend: unknown backend 'nope'/,
    );
  });

  it("lists the paper's two criteria", async () => {
    const { criteria } = await h.rpc.listCriteria({});
    assert.deepEqual(
      criteria.map((c) => c.name),
      ["accuracy", "completeness"],
    );
    assert.match(criteria[0].definition, /relevance.*supporting evidence.*misleading/s);
    assert.match(criteria[1].definition, /topics and details/);
  });
});

describe("JudgeService failure handling", () => {
  it("retries unparseable and out-of-scale output a bounded number of times, then records failed repeats", async () => {
    // Form choices 0 and 1 are garbage and out of scale; repeat 0's retry succeeds. Choices from 10 on are garbage
    // forever, so repeats that still need output after round one fail.
    const h = await startJudgeHarness({
      maxAttempts: 3,
      fake: {
        override: (call) =>
          call === 0 ? "I like it." : call === 1 ? "Fine.\nScore: 9" : call >= 10 ? "no score" : undefined,
      },
    });
    try {
      const result = await h.rpc.score({
        item: item("f", "Paris"),
        criteria: ["accuracy"],
        judge: { mode: ScoringMode.SINGLE, repeats: 10, repeatStrategy: RepeatStrategy.INDEPENDENT_CALLS },
      });
      const s = result.scores[0];
      const failed = s.repeats.filter((r) => r.failed);
      // 10 first attempts: 2 bad → 2 retries (calls 10, 11, garbage) → 2 more (12, 13, garbage) → 2 failed repeats.
      assert.equal(failed.length, 2);
      assert.equal(s.failedRepeats, 2);
      for (const r of failed) {
        assert.equal(r.score, 0);
        assert.equal(r.requests, 3);
        assert.match(r.error, /no valid score after 3 attempts: last line is not "Score: N"/);
        assert.equal(r.rawOutput, "no score");
      }
      assert.equal(s.spread?.n, 8, "statistics use the successful repeats only");
      assert.equal(h.fakeJudge.formCalls, 14);
    } finally {
      await h.close();
    }
  });

  it("refuses modes the backend cannot serve instead of falling back", async () => {
    const h = await startJudgeHarness({ supportsN: false, supportsLogprobs: false });
    try {
      const base = { item: item("p", "Paris") };
      await rejects(
        h.rpc.score({ ...base, judge: { mode: ScoringMode.LOGPROB_WEIGHTED } }),
        Code.FailedPrecondition,
        /judge\.mode: backend 'openai' returns no logprobs/,
      );
      await rejects(
        h.rpc.score({ ...base, judge: { mode: ScoringMode.SINGLE, repeatStrategy: RepeatStrategy.SHARED_REQUEST } }),
        Code.FailedPrecondition,
        /judge\.repeat_strategy: backend 'openai' does not support n/,
      );
      // Without n, N_SAMPLE makes one request per sample and says so in its request count.
      const r = await h.rpc.score({
        ...base,
        criteria: ["accuracy"],
        judge: { mode: ScoringMode.N_SAMPLE, repeats: 2, samples: 3 },
      });
      assert.equal(r.scores[0].requests, 6);
    } finally {
      await h.close();
    }
  });

  it("falls back to one request per repeat, recorded, when the backend turns out to ignore n", async () => {
    const h = await startJudgeHarness({ serverIgnoresN: true });
    try {
      const judge = { mode: ScoringMode.SINGLE, repeats: 10 };
      const sent = () => h.server.requests.filter((r) => r.path === "/v1/chat/completions" && r.body?.n !== undefined);
      const first = await h.rpc.score({ item: item("n1", "Paris"), criteria: ["accuracy"], judge });
      const s = first.scores[0];
      assert.equal(s.spread?.n, 10, "every repeat scored: the one choice returned plus 9 requests of their own");
      assert.equal(s.failedRepeats, 0);
      assert.equal(s.requests, 10);
      assert.equal(s.repeatStrategy, RepeatStrategy.INDEPENDENT_CALLS);
      assert.match(s.repeatStrategyReason, /fallback .*returned 1 choice for n = 10 \(it ignores n\)/);
      assert.equal(sent().length, 1, "n was asked for once");
      // Known now: the next answer asks one choice per request from the start.
      const before = h.chatRequests();
      const second = await h.rpc.score({ item: item("n2", "Lyon"), criteria: ["accuracy"], judge });
      assert.equal(h.chatRequests() - before, 10);
      assert.equal(sent().length, 1);
      assert.equal(second.scores[0].repeatStrategy, RepeatStrategy.INDEPENDENT_CALLS);
      // Asked for by name, shared requests are refused rather than switched.
      await rejects(
        h.rpc.score({
          item: item("n3", "Nice"),
          criteria: ["accuracy"],
          judge: { ...judge, repeatStrategy: RepeatStrategy.SHARED_REQUEST },
        }),
        Code.FailedPrecondition,
        /^judge\.repeat_strategy: REPEAT_STRATEGY_SHARED_REQUEST needs n, but backend 'openai' returned 1 choice/,
      );
    } finally {
      await h.close();
    }
  });

  it("maps an unreachable backend to UNAVAILABLE", async () => {
    const h = await startJudgeHarness();
    await h.close();
    await rejects(
      h.rpc.score({ item: item("u", "Paris"), judge: { mode: ScoringMode.SINGLE, repeats: 1 } }),
      Code.Unavailable,
      /judge backend failed/,
    );
  });
});

describe("ScoreBatch", () => {
  it("scores items with bounded concurrency, reports reliability and agreement with the reference scorer", async () => {
    const events: unknown[] = [];
    const h = await startJudgeHarness({
      latencyMs: 20,
      events: { batchScored: async (e) => void events.push(e) },
    });
    try {
      const answers = [
        "Paris",
        "Paris, the capital.",
        "Lyon",
        "Marseille or Paris",
        "Bananas",
        "It is Paris in France",
        "I do not know",
        "Nice",
      ];
      const result = await h.rpc.scoreBatch({
        items: answers.map((a, i) => item(`b${i}`, a)),
        judge: { mode: ScoringMode.SINGLE, repeats: 4 },
        concurrency: 4,
        compareJudge: { mode: ScoringMode.REFERENCE },
      });
      assert.ok(h.server.maxInFlight <= 4 + 1, `at most 4 form requests in flight, saw ${h.server.maxInFlight}`);
      assert.deepEqual(
        result.results.map((r) => r.itemId),
        answers.map((_, i) => `b${i}`),
      );
      assert.equal(result.compareResults.length, answers.length);
      const cal = result.reliability!;
      // The deprecated calibration field carries the same figures for older clients.
      const { $typeName: _new, humanAgreement: _human, ...figures } = cal;
      const { $typeName: _old, ...oldFigures } = result.calibration!;
      assert.deepEqual(oldFigures, figures);
      assert.equal(cal.humanAgreement.length, 0, "no human ratings, no human agreement");
      assert.equal(cal.items, answers.length);
      assert.equal(cal.requests, BigInt(2 + answers.length * 2), "2 steps + items × criteria (n = 4 shared)");
      for (const criterion of ["accuracy", "completeness"]) {
        assert.ok(cal.meanItemStddev[criterion] >= 0);
        assert.ok(cal.rankFlipRate[criterion] >= 0 && cal.rankFlipRate[criterion] <= 1);
        assert.ok(cal.rankFlipComparisons[criterion] > 0n);
        assert.equal(cal.failedRepeats[criterion], 0);
        assert.ok(cal.repeatAlpha[criterion] <= 1);
      }
      assert.equal(cal.agreement.length, 2);
      for (const a of cal.agreement) {
        assert.equal(a.firstJudge, "judge-model");
        assert.equal(a.secondJudge, "reference-scorer");
        assert.equal(a.items, answers.length);
        // The fake judge centres on reference-based quality, so the two must rank items alike.
        assert.ok(a.spearman > 0.5, `spearman ${a.spearman}`);
      }
      assert.equal(events.length, 1);
      assert.deepEqual(events[0], {
        items: 8,
        requests: cal.requests,
        failedRepeats: 0,
        durationSeconds: (events[0] as { durationSeconds: number }).durationSeconds,
      });
    } finally {
      await h.close();
    }
  });

  it("reports agreement with human ratings when the batch carries them, and validates them", async () => {
    const h = await startJudgeHarness();
    try {
      const answers = ["Paris", "Lyon", "Paris, in France", "Bananas", "It is Paris", "Nice"];
      const items = answers.map((a, i) => item(`h${i}`, a));
      // Two raters who agree with the truth the fake judge centres on (reference overlap), one with noise.
      const truth = (answer: string) => (answer.includes("Paris") ? 5 : 1);
      const humanRatings = answers.flatMap((a, i) => [
        { itemId: `h${i}`, criterion: "accuracy", score: truth(a), rater: "r1" },
        { itemId: `h${i}`, criterion: "accuracy", score: Math.min(5, truth(a) + (i % 2)), rater: "r2" },
      ]);
      const judge = { mode: ScoringMode.SINGLE, repeats: 3 };
      const result = await h.rpc.scoreBatch({ items, criteria: ["accuracy"], judge, humanRatings });
      const [human] = result.reliability!.humanAgreement;
      assert.equal(result.reliability!.humanAgreement.length, 1);
      assert.equal(human.criterion, "accuracy");
      assert.equal(human.firstJudge, "judge-model");
      assert.equal(human.secondJudge, "human ratings");
      assert.equal(human.items, answers.length);
      assert.ok(human.spearman > 0.7, `spearman ${human.spearman}`);
      assert.ok(human.krippendorffAlpha > 0.5, `alpha ${human.krippendorffAlpha}`);

      const bad = (ratings: object[], message: RegExp) =>
        rejects(
          h.rpc.scoreBatch({ items, criteria: ["accuracy"], judge, humanRatings: ratings }),
          Code.InvalidArgument,
          message,
        );
      await bad([{ itemId: "nope", criterion: "accuracy", score: 3 }], /^human_ratings\[0\]\.item_id: no item/);
      await bad([{ itemId: "h0", criterion: "completeness", score: 3 }], /^human_ratings\[0\]\.criterion:/);
      await bad([{ itemId: "h0", criterion: "accuracy", score: 7 }], /^human_ratings\[0\]\.score: must be in 1\.\.5/);
      await rejects(
        h.rpc.scoreBatch({
          items: [item("same", "Paris"), item("same", "Lyon")],
          criteria: ["accuracy"],
          judge,
          humanRatings: [{ itemId: "same", criterion: "accuracy", score: 5 }],
        }),
        Code.InvalidArgument,
        /^human_ratings\[0\]\.item_id: 2 items of the batch have item_id 'same'/,
      );
    } finally {
      await h.close();
    }
  });

  it("stops spending requests when the call is cancelled by its deadline", async () => {
    const h = await startJudgeHarness({ latencyMs: 150 });
    try {
      const items = Array.from({ length: 20 }, (_, i) => item(`c${i}`, "Paris"));
      await rejects(
        h.rpc.scoreBatch(
          { items, judge: { mode: ScoringMode.SINGLE, repeats: 10 }, concurrency: 4 },
          { timeoutMs: 400 },
        ),
        Code.DeadlineExceeded,
        /./,
      );
      const atDeadline = h.chatRequests();
      await new Promise((done) => setTimeout(done, 500));
      // 20 items × 2 criteria × 10 repeats would be 400 requests; only those already started may still land.
      assert.ok(h.chatRequests() <= atDeadline + 4, `${h.chatRequests() - atDeadline} requests after the deadline`);
      assert.ok(h.chatRequests() < 30, `${h.chatRequests()} requests in all`);
    } finally {
      await h.close();
    }
  });

  it("leaves raw output out of a batch response on request, and serves it from the cache on a re-run", async () => {
    const h = await startJudgeHarness();
    try {
      const request = { items: [item("r1", "Paris")], judge: { mode: ScoringMode.SINGLE, repeats: 2 } };
      const slim = await h.rpc.scoreBatch({ ...request, omitRawOutput: true });
      const repeats = slim.results[0].scores.flatMap((s) => s.repeats);
      assert.ok(repeats.every((r) => r.rawOutput === "" && r.rationale === "" && r.score >= 1));
      const full = await h.rpc.scoreBatch(request);
      assert.ok(
        full.results[0].scores.flatMap((s) => s.repeats).every((r) => r.cached && /Score: \d$/.test(r.rawOutput)),
      );
    } finally {
      await h.close();
    }
  });

  it("validates the batch", async () => {
    const h = await startJudgeHarness();
    try {
      await rejects(
        h.rpc.scoreBatch({ items: [], judge: logprobJudge }),
        Code.InvalidArgument,
        /^items: must be in 1\.\.10000/,
      );
      await rejects(
        h.rpc.scoreBatch({ items: [item("a", "x"), { question: "", answer: "y" }], judge: logprobJudge }),
        Code.InvalidArgument,
        /^items\[1\]\.question:/,
      );
      await rejects(
        h.rpc.scoreBatch({ items: [item("a", "x")], judge: logprobJudge, compareJudge: logprobJudge }),
        Code.InvalidArgument,
        /^compare_judge: is the same judge/,
      );
    } finally {
      await h.close();
    }
  });
});
