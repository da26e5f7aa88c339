/**
 * Judge benchmark, against the generator's fake OpenAI-compatible server answering as a sampled judge
 * (test/support/fake-judge.ts), through the real HTTP client and the service class.
 *
 * 1. LLM requests per judged answer, both criteria, R = 10: the paper's way (one request per repeat) against
 *    one shared request per criterion with n = 10 (single), and logprob weighting from the score-only form (one
 *    request and one repeat per criterion: its score is an expectation already), with the statistics each gives.
 * 2. Throughput of ScoreBatch at concurrency 32 against a fixed-latency server: achieved / ideal request rate.
 */
import { loadavg } from "node:os";
import { RepeatStrategy, type ScoreResponse, ScoringMode } from "@ragtune/contracts/judge";
import { createOpenAiClient } from "@ragtune/llm";
import { spearman } from "../src/statistics.js";
import { startJudgeHarness } from "../test/support/judge-harness.js";

const ITEMS = 24;
const REPEATS = 10;
const question = "Which organ produces insulin?";
const answers = [
  "The pancreas produces insulin.",
  "Insulin is made by beta cells of the pancreas.",
  "The liver.",
  "The pancreas, in the islets of Langerhans.",
  "I am not sure.",
  "Pancreas",
];
const items = Array.from({ length: ITEMS }, (_, i) => ({
  itemId: `i${i}`,
  question: `${question} (${i})`,
  answer: answers[i % answers.length],
  referenceAnswer: "The pancreas (beta cells of the islets of Langerhans)",
}));

function summarise(results: ScoreResponse[]) {
  const perCriterion = (name: string) => results.map((r) => r.scores.find((s) => s.criterion === name)!);
  const requests = results.reduce((sum, r) => sum + r.scores.reduce((a, s) => a + s.requests, 0), 0);
  const out: Record<string, { means: number[]; meanSd: number; n: number }> = {};
  for (const criterion of ["accuracy", "completeness"]) {
    const scores = perCriterion(criterion);
    out[criterion] = {
      means: scores.map((s) => s.spread!.mean),
      meanSd: scores.reduce((a, s) => a + s.spread!.stddev, 0) / scores.length,
      n: Math.min(...scores.map((s) => s.spread!.n)),
    };
  }
  return { requestsPerAnswer: requests / results.length, criteria: out };
}

async function requestsPerAnswer() {
  const ways = [
    {
      label: "paper: single, one request per repeat",
      mode: ScoringMode.SINGLE,
      strategy: RepeatStrategy.INDEPENDENT_CALLS,
    },
    { label: "single, shared request n=10", mode: ScoringMode.SINGLE, strategy: RepeatStrategy.SHARED_REQUEST },
    {
      label: "single, default strategy (shared where n is honoured)",
      mode: ScoringMode.SINGLE,
      strategy: RepeatStrategy.UNSPECIFIED,
    },
    {
      label: "logprob-weighted, score-only form (1 repeat)",
      mode: ScoringMode.LOGPROB_WEIGHTED,
      strategy: RepeatStrategy.SHARED_REQUEST,
    },
  ];
  const summaries = [];
  for (const way of ways) {
    // A fresh judge (same seed) per way, so no way reads another's cache.
    const h = await startJudgeHarness({ fake: { seed: 11 } });
    const { results } = await h.rpc.scoreBatch({
      items,
      // Logprob weighting takes its one repeat (more would be copies, and are refused).
      judge: {
        mode: way.mode,
        repeats: way.mode === ScoringMode.LOGPROB_WEIGHTED ? 1 : REPEATS,
        temperature: 1,
        repeatStrategy: way.strategy,
      },
      concurrency: 8,
    });
    summaries.push({ ...way, ...summarise(results) });
    await h.close();
  }
  const paper = summaries[0];
  console.log(`\n## LLM requests per judged answer (2 criteria × R=${REPEATS}, ${ITEMS} answers, temperature 1)`);
  console.log(
    "| way | requests/answer | repeats per criterion | mean item sd (acc / comp) | Spearman of item means vs paper (acc / comp) |",
  );
  console.log("| --- | ---: | ---: | --- | --- |");
  for (const s of summaries) {
    const rho = ["accuracy", "completeness"].map((c) =>
      spearman(s.criteria[c].means, paper.criteria[c].means).toFixed(3),
    );
    console.log(
      `| ${s.label} | ${s.requestsPerAnswer.toFixed(2)} | ${s.criteria.accuracy.n} | ${s.criteria.accuracy.meanSd.toFixed(3)} / ${s.criteria.completeness.meanSd.toFixed(3)} | ${rho.join(" / ")} |`,
    );
  }
  const byDefault = summaries[2].requestsPerAnswer;
  console.log(
    `BENCH judge requests_per_answer_default=${byDefault.toFixed(2)} paper_way=${paper.requestsPerAnswer.toFixed(2)} (target: ≤ 2)`,
  );
}

/** The same request load through the bare HTTP client: the floor any caller of this client gets on this machine. */
async function rawClientRate(baseUrl: string, requests: number, concurrency: number): Promise<number> {
  const client = createOpenAiClient({ baseUrl, maxRetries: 0, maxConcurrency: concurrency });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: requests }, (_, i) =>
      client.chatCompletion({
        model: "judge-model",
        messages: [{ role: "user", content: `Question:\nraw ${i}\nAnswer:\nx\n\nEvaluation Form:` }],
        max_tokens: 256,
      }),
    ),
  );
  return requests / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Judge and bare client take turns on the same server, ROUNDS times each after a full warm-up batch (the first batch
 * of a process also pays for JIT compilation, which is not what a running judge costs); the medians count.
 */
async function throughput(latencyMs: number, concurrency = 32, rounds = 3) {
  const h = await startJudgeHarness({ latencyMs, fake: { seed: 5 }, separateProcess: true });
  try {
    // One request per repeat, so the batch always has work for `concurrency` requests: this measures how fully the
    // judge keeps the backend busy, not how few requests it needs (the table above).
    const judge = { mode: ScoringMode.SINGLE, repeats: REPEATS, repeatStrategy: RepeatStrategy.INDEPENDENT_CALLS };
    // Freeze the evaluation steps first, so the timed batches are form requests only.
    await h.rpc.score({ item: { question: "warm-up", answer: "x" }, judge: { ...judge, repeats: 1 } });
    // Fresh questions per batch: no batch reads another's cached scores.
    const batchItems = (round: number) =>
      Array.from({ length: 32 }, (_, i) => ({
        ...items[i % ITEMS],
        itemId: `t${i}`,
        question: `round ${round} t${i}`,
      }));
    const ideal = concurrency / (latencyMs / 1000);
    const judgeRatios: number[] = [];
    const rawRatios: number[] = [];
    let maxInFlight = 0;
    let requests = 0;
    for (let round = 0; round <= rounds; round++) {
      const before = (await h.serverStats()).chatRequests;
      const started = performance.now();
      const result = await h.rpc.scoreBatch({ items: batchItems(round), judge, concurrency });
      const seconds = (performance.now() - started) / 1000;
      const stats = await h.serverStats();
      requests = stats.chatRequests - before;
      if (BigInt(requests) !== result.reliability?.requests) throw new Error("request counts disagree");
      maxInFlight = Math.max(maxInFlight, stats.maxInFlight);
      const raw = await rawClientRate(h.baseUrl, requests, concurrency);
      if (round === 0) continue; // the warm-up batch
      judgeRatios.push(requests / seconds / ideal);
      rawRatios.push(raw / ideal);
    }
    const judgeRatio = median(judgeRatios);
    const rawRatio = median(rawRatios);
    console.log(
      `| ${latencyMs} | ${concurrency} | ${requests} × ${rounds} | ${maxInFlight} | ${judgeRatios.map((r) => r.toFixed(3)).join(", ")} | ${judgeRatio.toFixed(3)} | ${rawRatio.toFixed(3)} | ${(judgeRatio / rawRatio).toFixed(3)} |`,
    );
    console.log(
      `BENCH judge achieved_ideal_${latencyMs}ms=${judgeRatio.toFixed(3)} bare_client_${latencyMs}ms=${rawRatio.toFixed(3)} rounds=${rounds} load_average=${loadavg()[0].toFixed(1)}`,
    );
  } finally {
    await h.close();
  }
}

await requestsPerAnswer();
console.log(
  "\n## ScoreBatch throughput against a fixed-latency fake server in its own process (32 items × 2 criteria × R=10)",
);
console.log("target judge achieved/ideal ≥ 0.95; the bare HTTP client on the same load shows the machine's floor");
console.log(
  "ideal = requests × latency / concurrency of wall time, i.e. concurrency / latency requests per second; each round is a fresh batch, after a warm-up batch",
);
console.log(
  "| latency ms | concurrency | requests × rounds | max in flight | judge achieved/ideal per round | judge median | bare client median | judge / bare client |",
);
console.log("| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |");
await throughput(100);
await throughput(500);
