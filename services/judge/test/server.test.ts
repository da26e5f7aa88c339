/**
 * Server tier: the judge built by build() from its env configuration, served on a real port over gRPC, with
 * real NATS (KV cache and frozen steps, batch events) and the fake judge model behind the real HTTP client.
 */
import assert from "node:assert/strict";
import { dirname, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { BatchScoredSchema } from "@ragtune/contracts/events";
import { RepeatStrategy, ScoringMode } from "@ragtune/contracts/judge";
import { Code, ConnectError } from "@connectrpc/connect";
import { startFakeOpenAiServer, type FakeOpenAiServer } from "@ragtune/testing";
import { connectNats, EVENTS_STREAM, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import { BATCH_SCORED_SUBJECT } from "../src/judge-service.js";
import { createFakeJudge } from "./support/fake-judge.js";
import { type ServedJudge, serveJudge } from "./support/served-judge.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

describe("judge server (gRPC on a port, NATS KV cache, events)", () => {
  let nats: LocalNats;
  let handle: NatsHandle;
  let fake: FakeOpenAiServer;
  const judges: ServedJudge[] = [];

  async function startJudge(env: Record<string, string>) {
    const judge = await serveJudge(handle, env);
    judges.push(judge);
    return judge;
  }

  before(async () => {
    nats = await startTestNats();
    handle = await connectNats({ url: nats.url, name: "judge-test" });
    fake = await startFakeOpenAiServer({
      respond: createFakeJudge().respond,
      models: [{ id: "judge-model", maxModelLen: 1_000_000 }],
    });
  });
  after(async () => {
    for (const judge of judges) await judge.close();
    await fake.close();
    await handle.close();
    await nats.stop();
  });

  const env = () => ({ JUDGE_OPENAI_BASE_URL: fake.baseUrl, JUDGE_MODEL: "judge-model", JUDGE_CACHE: "nats" });
  const item = {
    itemId: "s1",
    question: "Who wrote Hamlet?",
    answer: "Shakespeare wrote it.",
    referenceAnswer: "William Shakespeare",
  };

  it("scores over gRPC, and a second replica finds the frozen steps and the scores in NATS KV", async () => {
    const first = await startJudge(env());
    const judge = { mode: ScoringMode.SINGLE, repeats: 10, repeatStrategy: RepeatStrategy.SHARED_REQUEST };
    const before = fake.requests.length;
    const scored = await first.client.score({ item, judge });
    assert.equal(scored.stepsRequests, 2);
    assert.equal(fake.requests.length - before, 4, "2 steps + 1 shared request per criterion");
    assert.deepEqual(
      scored.scores.map((s) => s.spread?.n),
      [10, 10],
    );

    const second = await startJudge(env());
    const again = await second.client.score({ item, judge });
    assert.equal(fake.requests.length - before, 4, "the second replica makes no request");
    assert.equal(again.stepsRequests, 0);
    assert.deepEqual(
      again.scores.map((s) => s.stepsHash),
      scored.scores.map((s) => s.stepsHash),
    );
    assert.deepEqual(
      again.scores.map((s) => s.spread?.mean),
      scored.scores.map((s) => s.spread?.mean),
    );
    assert.ok(again.scores.every((s) => s.cachedRepeats === 10));
  });

  it("samples repeats as independent draws at temperature 1 by default, and refuses greedy copies", async () => {
    const { client } = await startJudge({ ...env(), JUDGE_CACHE: "memory" });
    const forms = () =>
      fake.requests.filter((r) => JSON.stringify(r.body?.messages ?? "").includes("Evaluation Form:")).length;
    const sent = (from: number) =>
      fake.requests.filter((r) => JSON.stringify(r.body?.messages ?? "").includes("Evaluation Form:")).slice(from);
    let before = forms();
    const independent = await client.score({
      item: { ...item, itemId: "t1" },
      criteria: ["accuracy"],
      judge: { mode: ScoringMode.SINGLE, repeats: 6, repeatStrategy: RepeatStrategy.INDEPENDENT_CALLS },
    });
    const calls = sent(before);
    assert.equal(calls.length, 6, "one request per repeat");
    assert.ok(calls.every((r) => r.body?.temperature === 1 && r.body?.n === undefined));
    assert.equal(independent.scores[0].temperature, 1);
    assert.ok(new Set(independent.scores[0].repeats.map((r) => r.rawOutput)).size > 1, "repeats are not copies");

    before = forms();
    const shared = await client.score({
      item: { ...item, itemId: "t2", answer: "Marlowe" },
      criteria: ["accuracy"],
      judge: { mode: ScoringMode.SINGLE, repeats: 6, repeatStrategy: RepeatStrategy.SHARED_REQUEST, temperature: 0.7 },
    });
    assert.deepEqual(
      sent(before).map((r) => [r.body?.n, r.body?.temperature]),
      [[6, 0.7]],
    );
    assert.equal(shared.scores[0].temperature, 0.7);

    const refused = async (judge: object, message: RegExp) =>
      assert.rejects(client.score({ item, judge }), (e: unknown) => {
        assert.ok(e instanceof ConnectError);
        assert.equal(e.code, Code.InvalidArgument);
        assert.match(e.rawMessage, message);
        return true;
      });
    before = fake.requests.length;
    await refused(
      { mode: ScoringMode.SINGLE, repeats: 10, greedy: true },
      /^judge\.greedy: temperature 0 would make the 10 repeats copies of one output \(spread 0 by construction\)/,
    );
    await refused({ mode: ScoringMode.SINGLE, greedy: true }, /^judge\.greedy: .* 10 repeats copies/);
    await refused(
      { mode: ScoringMode.N_SAMPLE, repeats: 1, samples: 5, greedy: true },
      /^judge\.greedy: .* 1 repeats × 5 samples copies/,
    );
    await refused({ mode: ScoringMode.SINGLE, repeats: 1, greedy: true, temperature: 1 }, /^judge\.greedy: conflicts/);
    assert.equal(fake.requests.length, before, "refused before any request");

    // One repeat of one sample may be greedy: there is nothing to copy.
    before = forms();
    const once = await client.score({
      item: { ...item, itemId: "t3" },
      criteria: ["accuracy"],
      judge: { mode: ScoringMode.SINGLE, repeats: 1, greedy: true },
    });
    assert.deepEqual(
      sent(before).map((r) => r.body?.temperature),
      [0],
    );
    assert.equal(once.scores[0].temperature, 0);
  });

  it("judges against every acceptable reference answer, over gRPC", async () => {
    const { client } = await startJudge({ ...env(), JUDGE_CACHE: "memory" });
    const question = { itemId: "r1", question: "What is Paris called?", answer: "The City of Light." };
    const references = { referenceAnswer: "Lutetia", referenceAnswers: ["Lutetia", "the City of Light"] };
    const best = await client.score({ item: { ...question, ...references }, judge: { mode: ScoringMode.REFERENCE } });
    assert.deepEqual(
      best.scores.map((s) => s.spread?.mean),
      [5, 5],
      "an answer matching only the second reference is a match",
    );
    const firstOnly = await client.score({
      item: { ...question, referenceAnswer: "Lutetia" },
      judge: { mode: ScoringMode.REFERENCE },
    });
    assert.deepEqual(
      firstOnly.scores.map((s) => s.spread?.mean),
      [1, 1],
    );

    const before = fake.requests.length;
    await client.score({
      item: { ...question, ...references },
      criteria: ["accuracy"],
      judge: { mode: ScoringMode.SINGLE, repeats: 1 },
    });
    const prompts = fake.requests.slice(before).map((r) => JSON.stringify(r.body?.messages));
    assert.ok(
      prompts.some((p) =>
        p.includes("Reference answers (each one is a correct answer):\\n- Lutetia\\n- the City of Light"),
      ),
      "the G-Eval form lists every acceptable answer",
    );
  });

  it("fails logprob repeats below JUDGE_MIN_SCORE_MASS over gRPC, and scores them under a lower minimum", async () => {
    // A judge model that puts 0.6 of the score position's probability on a word, 0.4 on the scale.
    const wordy = await startFakeOpenAiServer({
      respond: createFakeJudge({ offScaleMass: 0.6 }).respond,
      models: [{ id: "judge-model", maxModelLen: 1_000_000 }],
    });
    try {
      const settings = { JUDGE_OPENAI_BASE_URL: wordy.baseUrl, JUDGE_MODEL: "judge-model", JUDGE_CACHE: "memory" };
      const request = { item, criteria: ["accuracy"], judge: { mode: ScoringMode.LOGPROB_WEIGHTED } };
      const strict = await startJudge({ ...settings, JUDGE_MIN_SCORE_MASS: "0.5" });
      const [failed] = (await strict.client.score(request)).scores;
      assert.equal(failed.minScoreMass, 0.5);
      assert.equal(failed.failedRepeats, 1);
      assert.equal(failed.spread?.n, 0);
      assert.equal(failed.repeats[0].score, 0);
      assert.ok(Math.abs(failed.repeats[0].scoreMass - 0.4) < 1e-6);
      assert.match(failed.repeats[0].error, /is 0\.400, below the minimum 0\.5 \(JUDGE_MIN_SCORE_MASS\)/);

      const lenient = await startJudge({ ...settings, JUDGE_MIN_SCORE_MASS: "0.3" });
      const [scored] = (await lenient.client.score(request)).scores;
      assert.equal(scored.failedRepeats, 0);
      assert.ok(scored.repeats[0].score >= 1 && scored.repeats[0].score <= 5);
    } finally {
      await wordy.close();
    }
  });

  it("announces a scored batch on ragtune.judge.batch.scored", async () => {
    const { client } = await startJudge(env());
    const result = await client.scoreBatch({
      items: [item, { ...item, itemId: "s2", answer: "Marlowe." }],
      judge: { mode: ScoringMode.SINGLE, repeats: 3 },
      concurrency: 2,
    });
    const stored = await handle.jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: BATCH_SCORED_SUBJECT });
    assert.ok(stored);
    const event = fromBinary(BatchScoredSchema, stored.data);
    assert.equal(event.items, 2);
    assert.equal(event.requests, result.reliability?.requests);
    assert.ok(event.meta?.eventId);
    assert.ok(event.durationSeconds > 0);
  });

  it("answers a grpc-js client that knows only the .proto files", async () => {
    const { url } = await startJudge({ JUDGE_CACHE: "memory" });
    const definition = protoLoader.loadSync("ragtune/judge/v1/judge.proto", {
      includeDirs: [resolve(repoRoot, "proto")],
      enums: String,
      longs: String,
      defaults: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as any;
    const client = new loaded.ragtune.judge.v1.JudgeService(new URL(url).host, grpc.credentials.createInsecure());
    const call = (method: string, request: object) =>
      new Promise<any>((done, fail) =>
        client[method](request, (error: Error | null, reply: any) => (error ? fail(error) : done(reply))),
      );
    try {
      const listed = await call("ListCriteria", {});
      assert.deepEqual(
        listed.criteria.map((c: { name: string }) => c.name),
        ["accuracy", "completeness"],
      );
      const reply = await call("Score", { item, judge: { mode: "SCORING_MODE_REFERENCE" } });
      assert.equal(reply.scores[0].judgeModel, "reference-scorer");
      assert.equal(reply.scores[0].mode, "SCORING_MODE_REFERENCE");
      await assert.rejects(
        call("Score", { item, judge: { mode: "SCORING_MODE_SINGLE" }, criteria: ["nope"] }),
        (e: any) => {
          assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
          // connect-node percent-encodes ':' in grpc-message and grpc-js decodes with decodeURI, which keeps "%3A".
          assert.match(decodeURIComponent(e.details), /criteria\[0\]: unknown criterion 'nope'/);
          return true;
        },
      );
      // No model backend configured: G-Eval is refused plainly, the reference scorer still works.
      await assert.rejects(call("Score", { item, judge: { mode: "SCORING_MODE_SINGLE" } }), (e: any) => {
        assert.equal(e.code, grpc.status.FAILED_PRECONDITION);
        return true;
      });
    } finally {
      client.close();
    }
  });
});
