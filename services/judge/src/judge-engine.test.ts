import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { JudgeConfigSchema, ScoreItemSchema, ScoringMode } from "@ragtune/contracts/judge";
import { LlmError } from "@ragtune/llm";
import { type InProcessJudgeHarness, startJudgeHarness } from "../test/support/judge-harness.js";
import { ACCURACY } from "./criteria.js";
import type { CachedRepeats } from "./judge-engine.js";
import { resolveJudge } from "./resolved-judge.js";
import { createMemoryStore, type JsonStore } from "./stores/blob-store.js";

/** The harness's judge model in SINGLE mode with this many repeats. */
const singleScoreJudge = (h: InProcessJudgeHarness, repeats: number) =>
  resolveJudge(create(JudgeConfigSchema, { mode: ScoringMode.SINGLE, repeats }), "judge", h.backends);

describe("judge engine", () => {
  it("stops the whole batch at the first failed item instead of paying for the rest", async () => {
    const h = await startJudgeHarness({ latencyMs: 30 });
    try {
      const judge = singleScoreJudge(h, 10);
      const items = Array.from({ length: 20 }, (_, i) =>
        create(ScoreItemSchema, { question: `q${i}`, answer: "Paris" }),
      );
      await h.engine.scoreItem(items[0], [ACCURACY], { ...judge, repeats: 1 } as typeof judge);
      const before = h.chatRequests();
      h.server.failNext(1, 400);
      await assert.rejects(
        h.engine.scoreBatch(items, [ACCURACY], judge, 4),
        (e) => e instanceof LlmError && e.status === 400,
      );
      await new Promise((done) => setTimeout(done, 150));
      // Without the stop the 3 other items already started would finish their 10 repeats each (22 requests in all).
      assert.ok(h.chatRequests() - before <= 8, `${h.chatRequests() - before} requests`);
    } finally {
      await h.close();
    }
  });

  it("lets a request already sent finish when its caller cancels, and its score answers the caller's retry", async () => {
    const h = await startJudgeHarness({ latencyMs: 200 });
    try {
      const judge = singleScoreJudge(h, 2);
      const item = create(ScoreItemSchema, { question: "Capital of France?", answer: "Paris" });
      // Freeze the steps first, so the cancelled call's only request is the scoring one.
      await h.engine.scoreItem(create(ScoreItemSchema, { question: "warm-up", answer: "x" }), [ACCURACY], judge);
      const before = h.chatRequests();
      const caller = new AbortController();
      const cancelled = h.engine.scoreItem(item, [ACCURACY], judge, [], caller.signal);
      setTimeout(() => caller.abort(new Error("gateway went away")), 50);
      await assert.rejects(cancelled, /gateway went away/);
      await new Promise((done) => setTimeout(done, 400)); // the request sent before the cancel comes back
      const sent = h.chatRequests() - before;
      assert.ok(sent >= 1, "the scoring request was sent before the cancel");

      const retried = await h.engine.scoreItem(item, [ACCURACY], judge);
      assert.equal(h.chatRequests() - before, sent, "the retry asked the model nothing");
      assert.ok(retried.scores[0].repeats.every((r) => r.cached));
    } finally {
      await h.close();
    }
  });

  it("keeps an answer's repeats on a criterion in one cache entry, one write for a shared request", async () => {
    const memory = createMemoryStore<CachedRepeats>();
    const writes: string[] = [];
    const scores: JsonStore<CachedRepeats> = {
      ...memory,
      put: (key, value) => {
        writes.push(key);
        return memory.put(key, value);
      },
    };
    const h = await startJudgeHarness({ scores });
    try {
      const judge = singleScoreJudge(h, 10);
      const item = create(ScoreItemSchema, { question: "Capital of France?", answer: "Paris" });
      const first = await h.engine.scoreItem(item, [ACCURACY], judge);
      assert.equal(writes.length, 1, "the 10 repeats of one shared request are one write");
      assert.equal(Object.keys((await memory.get(writes[0]))!.repeats).length, 10);
      const before = h.chatRequests();
      const again = await h.engine.scoreItem(item, [ACCURACY], judge);
      assert.equal(h.chatRequests(), before, "all 10 repeats came from the cache");
      assert.deepEqual(
        again.scores[0].repeats.map((r) => [r.score, r.cached]),
        first.scores[0].repeats.map((r) => [r.score, true]),
      );
    } finally {
      await h.close();
    }
  });
});
