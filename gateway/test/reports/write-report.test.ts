import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fromJsonString } from "@bufbuild/protobuf";
import { AnswerRecordSchema } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import { writeReport } from "../../src/reports/write-report.js";
import { answerStream, CRITERIA, DATASETS, ITEMS, MODELS, plantedRun, SIZES } from "./planted-run.js";

describe("writeReport", () => {
  it("writes CSV, JSON, a booktabs LaTeX table in the paper's layout, the HTML report and answers.jsonl", async () => {
    const { experiment, rows, answers } = plantedRun();
    const dir = mkdtempSync(join(tmpdir(), "ragtune-report-"));
    const files = await writeReport(dir, experiment, rows, {
      about: ["DEMO CORPUS: fictional data"],
      answers: answerStream(answers),
    });
    assert.deepEqual(
      files.map((f) => f.slice(dir.length + 1)),
      ["results.csv", "results.json", "results.tex", "report.html", "answers.jsonl"],
    );

    const tex = readFileSync(join(dir, "results.tex"), "utf8");
    for (const rule of ["\\toprule", "\\midrule", "\\bottomrule"]) assert.ok(tex.includes(rule), rule);
    assert.match(tex, /Dataset & Model & Base & 200 & 500 \\\\/);
    // One line per dataset × model in each criterion's block.
    const bodyLines = tex.split("\n").filter((l) => /^(bioasq|qasper) & /.test(l));
    assert.equal(bodyLines.length, DATASETS.length * MODELS.length * CRITERIA.length);
    assert.match(bodyLines[0], /\{\\scriptsize\(\$-\$0\.\d\d\$\^\{\*\}\$\)\}/, "a significant planted drop is starred");
    assert.match(tex, /judge: G-Eval, logprob-weighted, judge-model/);
    assert.match(tex, /DEMO CORPUS: fictional data/);
    assert.match(tex, /llama-2-7b-chat/);
    assert.match(tex, /\(paired n = 30\)/);

    const json = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
    assert.equal(json.state, "succeeded");
    assert.deepEqual(json.statements, ["DEMO CORPUS: fictional data"]);
    assert.equal(json.rows.length, rows.length);

    const lines = readFileSync(join(dir, "answers.jsonl"), "utf8").trimEnd().split("\n");
    assert.equal(lines.length, DATASETS.length * MODELS.length * SIZES.length * ITEMS);
    const first = fromJsonString(AnswerRecordSchema, lines[0]);
    assert.equal(first.answer, `answer to ${first.itemId}`);
    assert.equal(first.contexts[0].text, `context of ${first.itemId}`);
    assert.deepEqual(first.referenceAnswers, ["answer 0", "also answer 0"]);
    assert.equal(first.scores.length, CRITERIA.length);
    assert.equal(first.scores[0].repeats.length, 3);
    assert.equal(first.scores[0].repeats[1].rationale, `rationale 1 for ${first.itemId}`);
    // Enums by name in the export, never numbers.
    assert.match(lines[0], /"mode":"SCORING_MODE_LOGPROB_WEIGHTED"/);

    // Any number traces back to its items: a cell's mean from answers.jsonl equals the row's.
    const row = rows.find((r) => r.dataset === "qasper" && r.finetuneSize === 200 && r.criterion === "accuracy")!;
    const cellAnswers = lines
      .map((l) => fromJsonString(AnswerRecordSchema, l))
      .filter((a) => a.dataset === "qasper" && a.finetuneSize === 200 && a.baseModel === row.baseModel);
    const mean =
      cellAnswers.reduce((sum, a) => sum + a.scores.find((s) => s.criterion === "accuracy")!.spread!.mean, 0) /
      cellAnswers.length;
    assert.ok(Math.abs(mean - row.score!.mean) < 1e-9);
  });

  it("says in every file when the judge is the reference scorer and the model the extractive reader", async () => {
    const { experiment, rows } = plantedRun(ScoringMode.REFERENCE, "extractive");
    const dir = mkdtempSync(join(tmpdir(), "ragtune-report-"));
    await writeReport(dir, experiment, rows);
    for (const name of ["results.csv", "results.json", "results.tex", "report.html"]) {
      const text = readFileSync(join(dir, name), "utf8");
      assert.match(text, /reference-overlap scorer \(not G-Eval\)/, name);
      assert.match(text, /extractive reader/, name);
      assert.doesNotMatch(text, /judge mode \d|state \d|"judgeMode":\s*\d/, name);
    }
  });
});
