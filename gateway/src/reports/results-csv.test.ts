import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod, SpreadSchema } from "@ragtune/contracts/common";
import { ResultRowSchema } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import { rowsToCsv, rowsToJson } from "./results-csv.js";
import { formatResultsTable } from "./results-terminal.js";
import { describeRun, standIns } from "../cli/data-source.js";
import {
  fineTuneLabel,
  judgeLabel,
  methodLabel,
  modelLabel,
  reportStatements,
  standInStatements,
} from "./run-labels.js";

const spread = create(SpreadSchema, { n: 3, mean: 3.5, stddev: 0.5, ci95Low: 2.3, ci95High: 4.7 });
const readerRows = [
  create(ResultRowSchema, {
    dataset: "bioasq",
    baseModel: "extractive-reader",
    backend: "extractive",
    criterion: "accuracy",
    score: spread,
    judgeMode: ScoringMode.REFERENCE,
    judgeModel: "reference-scorer",
    judgeRepeats: 1,
    diffPValue: 1,
    diffPHolm: 1,
    manifestSha256: "ab,12",
  }),
  create(ResultRowSchema, {
    dataset: "bioasq",
    baseModel: "extractive-reader",
    backend: "extractive",
    method: FineTuneMethod.LORA,
    finetuneSize: 200,
    trainedOn: 180,
    criterion: "accuracy",
    score: spread,
    pairedN: 3,
    diffVsBase: -0.25,
    diffCi95Low: -0.5,
    diffCi95High: 0,
    diffPValue: 0.02,
    diffPHolm: 0.04,
    holmFamilySize: 2,
    adapterId: "a1",
    executor: "cpu-reader",
    judgeMode: ScoringMode.REFERENCE,
    judgeModel: "reference-scorer",
    judgeRepeats: 1,
    failedRepeats: 2,
  }),
];
const llmRow = create(ResultRowSchema, {
  dataset: "qasper",
  baseModel: "llama-2-7b",
  backend: "openai",
  method: FineTuneMethod.QLORA,
  finetuneSize: 500,
  executor: "peft",
  criterion: "completeness",
  score: spread,
  judgeMode: ScoringMode.LOGPROB_WEIGHTED,
  judgeModel: "gpt-4o",
});

describe("labels", () => {
  it("labels each row by the method that really ran", () => {
    assert.equal(methodLabel({ method: FineTuneMethod.UNSPECIFIED, executor: "" }), "base");
    assert.equal(methodLabel({ method: FineTuneMethod.QLORA, executor: "peft" }), "qlora");
    assert.equal(methodLabel({ method: FineTuneMethod.LORA, executor: "cpu-reader" }), "reader");
  });

  it("says in words when the model, fine-tune or judge is a stand-in", () => {
    const [, tuned] = readerRows;
    assert.match(modelLabel(tuned), /extractive reader .*not an LLM/);
    assert.match(fineTuneLabel(tuned), /sentence-scorer fine-tune \(not LoRA/);
    assert.equal(judgeLabel(tuned), "judge: reference-overlap scorer (not G-Eval)");
    assert.equal(standInStatements(readerRows).length, 3);
    assert.equal(judgeLabel(llmRow), "judge: G-Eval, logprob-weighted, gpt-4o");
    assert.equal(fineTuneLabel(llmRow), "qlora (peft)");
    assert.deepEqual(standInStatements([llmRow]), []);
  });
});

describe("reportStatements", () => {
  it("keeps the run's own statement whole and repeats none of its stand-ins", () => {
    const about = describeRun(
      { dir: "/x/demo-corpus", demo: { seed: 0, generated: false, version: 1 } },
      standIns({ backend: "extractive", judgeMode: "reference" }),
    );
    const statements = reportStatements(about, readerRows);
    assert.match(statements[0], /^DEMO CORPUS: .* seed 0, in \/x\/demo-corpus\.$/);
    assert.equal(statements.filter((s) => s.startsWith("STAND-IN")).length, 3);
    assert.equal(statements.length, 5, statements.join("\n"));
  });
});

describe("results CSV, JSON and terminal table", () => {
  it("writes a header and one line per row, blank differences on the base row, labels in words", () => {
    const [header, base, tuned, end] = rowsToCsv(readerRows).split("\n");
    const columns = header.split(",");
    const at = (line: string, name: string) => {
      // The rows here have no quoted comma except manifest_sha256 on the base row.
      const fields = line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((f) => f.replace(/,$/, ""));
      return fields[columns.indexOf(name)];
    };
    assert.equal(at(base, "diff_vs_base"), "");
    assert.equal(at(base, "p_holm"), "");
    assert.equal(at(base, "manifest_sha256"), '"ab,12"');
    assert.equal(at(tuned, "diff_vs_base"), "-0.2500");
    assert.equal(at(tuned, "paired_n"), "3");
    assert.equal(at(tuned, "p_holm"), "0.0400");
    assert.equal(at(tuned, "trained_on"), "180");
    assert.equal(at(tuned, "failed_repeats"), "2");
    assert.equal(at(tuned, "judge"), "judge: reference-overlap scorer (not G-Eval)");
    assert.equal(at(tuned, "judge_mode"), "reference");
    assert.equal(at(tuned, "method"), "reader");
    assert.equal(end, "");
  });

  it("leaves the difference blank, and says why, for a fine-tuned row with no base cell to pair with", () => {
    const [header, line] = rowsToCsv([llmRow]).split("\n");
    const columns = header.split(",");
    const fields = line.split(",");
    for (const name of ["paired_n", "diff_vs_base", "p_value", "p_holm"])
      assert.equal(fields[columns.indexOf(name)], "", name);
    assert.match(formatResultsTable([llmRow]), /qlora +500 .* no paired base$/m);
  });

  it("never shows an enum's number", () => {
    const json = JSON.stringify(rowsToJson([...readerRows, llmRow]));
    assert.match(json, /"judgeMode":"SCORING_MODE_REFERENCE"/);
    assert.match(json, /"judge":"judge: reference-overlap scorer \(not G-Eval\)"/);
    assert.doesNotMatch(json, /"(judgeMode|method)":\d/);
    const csv = rowsToCsv([...readerRows, llmRow]);
    assert.match(csv, /logprob weighted/);
    assert.doesNotMatch(csv, /judge mode \d|state \d/);
  });

  it("prints the judge and stand-ins above a terminal table with corrected p-values", () => {
    const text = formatResultsTable(readerRows);
    const lines = text.split("\n");
    assert.equal(lines[0], "judge: reference-overlap scorer (not G-Eval)");
    assert.match(text, /extractive reader/);
    assert.match(text, /reader +200 +180 accuracy .* 3 +-0\.25 \[-0\.50, 0\.00\] +0\.040 \*/);
  });
});
