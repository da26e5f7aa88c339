import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RepeatStrategy, ScoringMode } from "@ragtune/contracts/judge";
import type { JudgeBackend, JudgeCompletion, JudgeCompletionRequest } from "./judge-backend.js";
import { type RepeatRecord, type RepeatScoringPlan, scoreRepeats } from "./repeat-scoring.js";

/** A backend whose answers the test releases one request at a time, recording what each request asked. */
function heldBackend() {
  const asked: JudgeCompletionRequest[] = [];
  const release: Array<() => void> = [];
  const backend: JudgeBackend = {
    name: "held",
    system: "test",
    supportsN: false,
    maxN: 1,
    supportsLogprobs: false,
    complete(request): Promise<JudgeCompletion> {
      asked.push(request);
      return new Promise((resolve) =>
        release.push(() =>
          resolve({ choices: [{ text: "Looks right.\nScore: 4" }], inputTokens: 10, outputTokens: 5, model: "m" }),
        ),
      );
    },
  };
  const settle = () => new Promise((done) => setImmediate(done));
  return { backend, asked, release, settle };
}

function planFor(backend: JudgeBackend, extra: Partial<RepeatScoringPlan>): RepeatScoringPlan {
  return {
    backend,
    model: { baseModel: "judge", adapter: "" },
    mode: ScoringMode.SINGLE,
    strategy: RepeatStrategy.INDEPENDENT_CALLS,
    temperature: 1,
    samples: 1,
    messages: [{ role: "user", content: "Score this." }],
    maxAttempts: 2,
    minScoreMass: 0,
    run: (request) => request(),
    ...extra,
  };
}

describe("scoreRepeats", () => {
  it("hands each repeat over the moment it is scored, while the others are still asked for", async () => {
    const { backend, release, settle } = heldBackend();
    const scored: RepeatRecord[] = [];
    const outcome = scoreRepeats(planFor(backend, { onScored: (record) => scored.push(record) }), [0, 1, 2]);
    await settle();
    release[1]();
    await settle();
    assert.deepEqual(
      scored.map((r) => [r.repeatIndex, r.score]),
      [[1, 4]],
      "repeat 1 is handed over before repeats 0 and 2 are answered",
    );
    release[0]();
    release[2]();
    const { records } = await outcome;
    assert.deepEqual(
      scored.map((r) => r.repeatIndex),
      [1, 0, 2],
    );
    assert.deepEqual(
      records,
      [0, 1, 2].map((i) => scored.find((r) => r.repeatIndex === i)),
    );
  });

  it("seeds each repeat's request apart, and the same repeat the same way when it is asked again", async () => {
    const seedsOf = async (repeats: number[]) => {
      const { backend, asked, release, settle } = heldBackend();
      const outcome = scoreRepeats(planFor(backend, { seedBase: "answer-and-criterion" }), repeats);
      await settle();
      for (const answer of release) answer();
      await outcome;
      return new Map(asked.map((request, i) => [repeats[i], request.seed]));
    };
    const first = await seedsOf([0, 1, 2, 3]);
    assert.equal(new Set(first.values()).size, 4, `one seed per repeat: ${[...first.values()]}`);
    for (const seed of first.values()) assert.ok(Number.isInteger(seed) && seed! >= 0 && seed! < 2 ** 31);
    // Repeats 1 and 3 asked again (their first answers lost): the same seeds as before.
    const again = await seedsOf([1, 3]);
    assert.deepEqual([again.get(1), again.get(3)], [first.get(1), first.get(3)]);
    const { backend, asked, release, settle } = heldBackend();
    const unseeded = scoreRepeats(planFor(backend, {}), [0]);
    await settle();
    release[0]();
    await unseeded;
    assert.equal(asked[0].seed, undefined, "no seed sent without a seed base");
  });
});
