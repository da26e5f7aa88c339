import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { JudgeConfigSchema, ScoreItemSchema, ScoringMode } from "@ragtune/contracts/judge";
import { LlmError } from "@ragtune/llm";
import { startJudgeHarness } from "../test/support/judge-harness.js";
import { ACCURACY } from "./criteria.js";
import { resolveJudge } from "./resolved-judge.js";

describe("judge engine", () => {
  it("stops the whole batch at the first failed item instead of paying for the rest", async () => {
    const h = await startJudgeHarness({ latencyMs: 30 });
    try {
      const judge = resolveJudge(
        create(JudgeConfigSchema, { mode: ScoringMode.SINGLE, repeats: 10 }),
        "judge",
        h.backends,
      );
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
});
