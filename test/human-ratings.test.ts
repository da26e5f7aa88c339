/**
 * Agreement with human ratings as a person gets it: a run finishes on a real stack, the "raters" rate some of its
 * answers (answers.jsonl's cell_key and item_id), and `ragtune results ID --human-ratings FILE` / `ragtune report`
 * (the CLI as its own process, over gRPC) print and write the agreement; a bad file is refused before the gateway
 * is asked anything.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type AnswerRecord, type Experiment, ExperimentService, ExperimentState } from "@ragtune/contracts/gateway";
import { repoRoot } from "@ragtune/gateway";
import { createServiceClient } from "@ragtune/runtime";
import { readerExperimentSpec } from "./support/reader-experiment.js";
import { startTestStack, type TestStack } from "./support/stack.js";
import { writeSyntheticBioAsq } from "./support/synthetic-bioasq.js";

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ["--conditions=development", "--import", "tsx", join(repoRoot, "gateway/src/cli/main.ts"), ...args],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

describe("ragtune results and report --human-ratings", () => {
  let stack: TestStack | undefined;
  let env: NodeJS.ProcessEnv;
  const records: AnswerRecord[] = [];

  before(async () => {
    stack = await startTestStack();
    const dataDir = join(stack.dataDir, "bioasq");
    mkdirSync(dataDir, { recursive: true });
    const path = writeSyntheticBioAsq(dataDir, 60);
    // Gold answers the snippets do not hold, for every third question: the reader misses those, so the judge's
    // scores vary (correlation is defined).
    const data = JSON.parse(readFileSync(path, "utf8"));
    data.questions.forEach((q: { ideal_answer: string[]; exact_answer: string[][] }, i: number) => {
      if (i % 3 === 0) {
        q.ideal_answer = ["No protein has been reported for it in any study."];
        q.exact_answer = [["none reported"]];
      }
    });
    writeFileSync(path, JSON.stringify(data));
    const url = stack.processes.find((p) => p.service.name === "gateway")!.url;
    env = { GATEWAY_URL: url, RAGTUNE_DATA_DIR: join(stack.dataDir, "cli-state"), NO_COLOR: "1" };
    const gateway = createServiceClient(ExperimentService, url);
    const spec = readerExperimentSpec({ name: "human", dataDir, sizes: [0], seed: 3n });
    await gateway.createExperiment({ experimentId: "human-ratings", spec });
    await gateway.startExperiment({ experimentId: "human-ratings" });
    let final: Experiment | undefined;
    for await (const update of gateway.watchExperiment({ experimentId: "human-ratings" })) final = update.experiment!;
    assert.equal(final!.state, ExperimentState.SUCCEEDED, `${final!.error}\n${stack.logs.slice(-30).join("\n")}`);
    for await (const { record } of gateway.exportAnswers({ experimentId: "human-ratings" })) records.push(record!);
  });
  after(async () => {
    await stack?.stop();
  });

  it("prints the judge's agreement with the raters under the results and writes it beside the report", async () => {
    // Planted raters: human = 6 − judge on accuracy (a perfect reversal), for every answer; one rating names
    // nothing of the run.
    const judged = records.map((r) => ({
      r,
      accuracy: r.scores.find((s) => s.criterion === "accuracy")!.spread!.mean,
    }));
    assert.ok(
      new Set(judged.map((j) => j.accuracy)).size > 1,
      `the judge scores vary, so correlation is defined: ${JSON.stringify(records.map((r) => r.scores.map((s) => s.spread?.mean)))}`,
    );
    const lines = judged.map(({ r, accuracy }) =>
      JSON.stringify({
        cell_key: r.cellKey,
        item_id: r.itemId,
        criterion: "accuracy",
        score: 6 - accuracy,
        rater: "a",
      }),
    );
    lines.push(JSON.stringify({ cell_key: records[0].cellKey, item_id: "nowhere", criterion: "accuracy", score: 3 }));
    const file = join(stack!.dataDir, "ratings.jsonl");
    writeFileSync(file, `${lines.join("\n")}\n`);

    const res = await cli(["results", "human-ratings", "--human-ratings", file], env);
    assert.equal(res.code, 0, res.stderr);
    const meanAbs = judged.reduce((sum, j) => sum + Math.abs(2 * j.accuracy - 6), 0) / judged.length;
    const meanDiff = judged.reduce((sum, j) => sum + (2 * j.accuracy - 6), 0) / judged.length;
    const signed = `${meanDiff > 0 ? "+" : ""}${meanDiff.toFixed(2)}`;
    const row = `accuracy all ${judged.length} -1.00 -1.00 ${meanAbs.toFixed(2)} ${signed}`;
    const printed = res.stdout.split("\n").map((l) => l.trim().replace(/\s+/g, " "));
    assert.ok(printed.includes(row), `${row}\nnot in\n${res.stdout}`);
    assert.match(res.stdout, /^accuracy\s+bioasq\s+20\s/m);
    assert.match(res.stdout, /1 rating\(s\) matched nothing and are not counted: line 21: no answer nowhere in cell /);

    const out = join(stack!.dataDir, "report");
    const report = await cli(["report", "human-ratings", "--out", out, "--human-ratings", file], env);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, new RegExp(`agreement with human ratings: ${join(out, "human-agreement.csv")}`));
    const csv = readFileSync(join(out, "human-agreement.csv"), "utf8").trim().split("\n");
    assert.equal(csv[0], "criterion,dataset,n,spearman,pearson,mean_abs_difference,mean_difference");
    const [criterion, dataset, n, rho, r, abs] = csv[1].split(",");
    assert.deepEqual([criterion, dataset, Number(n)], ["accuracy", "all", judged.length]);
    for (const v of [rho, r]) assert.ok(Math.abs(Number(v) + 1) < 1e-9, csv[1]);
    assert.ok(Math.abs(Number(abs) - meanAbs) < 1e-9, csv[1]);
  });

  it("run SPEC --human-ratings prints the agreement after the results and writes it beside the report", async () => {
    // The same data, spec and seed as the run above: the same cells and items, so the same ratings apply.
    const spec = join(stack!.dataDir, "human.yaml");
    writeFileSync(
      spec,
      [
        "name: human",
        "datasets: [{format: bioasq, paths: [bioasq]}]",
        "base_models: [{base_model: extractive-reader, backend: extractive}]",
        "finetune_sizes: [0]",
        "eval_size: 20",
        "seed: 3",
        "judge: {mode: SCORING_MODE_REFERENCE, repeats: 3}",
        "",
      ].join("\n"),
    );
    const file = join(stack!.dataDir, "ratings-run.jsonl");
    writeFileSync(
      file,
      records
        .map((r) => {
          const judge = r.scores.find((s) => s.criterion === "completeness")!.spread!.mean;
          return JSON.stringify({ cellKey: r.cellKey, itemId: r.itemId, criterion: "completeness", score: 6 - judge });
        })
        .join("\n"),
    );
    const out = join(stack!.dataDir, "run-report");
    const res = await cli(["run", spec, "--id", "human-run", "--out", out, "--human-ratings", file], env);
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /^completeness\s+all\s+20\s+-1\.00\s+-1\.00\s/m);
    assert.match(res.stdout, new RegExp(`agreement with human ratings: ${join(out, "human-agreement.csv")}`));
    assert.ok(existsSync(join(out, "report.html")) && existsSync(join(out, "human-agreement.csv")));
  });

  it("refuses a bad ratings file naming its line and field, before asking the gateway", async () => {
    const file = join(stack!.dataDir, "bad.csv");
    writeFileSync(file, "cell_key,item_id,criterion,score\nc,i,accuracy,4\nc,j,accuracy,9\n");
    const res = await cli(["results", "human-ratings", "--human-ratings", file], {
      ...env,
      GATEWAY_URL: "http://127.0.0.1:9",
    });
    assert.equal(res.code, 2);
    assert.equal(
      res.stderr.trim(),
      `ragtune results: --human-ratings ${file}:3: score: must be a number in 1..5, got "9"`,
    );
    const run = await cli(["run", "--human-ratings", file, "--id", "human-bad"], env);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /^ragtune run: --human-ratings .*bad\.csv:3: score: must be a number in 1\.\.5, got "9"\nnothing was started\.$/m,
    );
    const status = await cli(["status", "human-bad"], env);
    assert.match(status.stderr, /NOT_FOUND/);
  });
});
