import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod, SpreadSchema } from "@ragtune/contracts/common";
import { ResultRowSchema } from "@ragtune/contracts/gateway";
import { methodLabel, rowsToCsv } from "./results-csv.js";

const spread = create(SpreadSchema, { n: 3, mean: 3.5, stddev: 0.5, ci95Low: 2.3, ci95High: 4.7 });

describe("results CSV", () => {
  it("labels each row by the method that really ran", () => {
    assert.equal(methodLabel({ method: FineTuneMethod.UNSPECIFIED, executor: "" }), "base");
    assert.equal(methodLabel({ method: FineTuneMethod.QLORA, executor: "peft" }), "qlora");
    assert.equal(methodLabel({ method: FineTuneMethod.LORA, executor: "cpu-reader" }), "reader");
  });

  it("writes one line per row with the executor and blank differences for the base row", () => {
    const rows = [
      create(ResultRowSchema, { dataset: "bioasq", baseModel: "m", criterion: "accuracy", score: spread }),
      create(ResultRowSchema, {
        dataset: "bioasq",
        baseModel: "m",
        method: FineTuneMethod.LORA,
        finetuneSize: 200,
        criterion: "accuracy",
        score: spread,
        diffVsBase: -0.25,
        diffCi95Low: -0.5,
        diffCi95High: 0,
        adapterId: "a,1",
        executor: "peft",
      }),
    ];
    const [header, base, tuned, end] = rowsToCsv(rows).split("\n");
    assert.ok(header.endsWith(",adapter_id,executor"));
    assert.equal(base, "bioasq,m,base,0,0,accuracy,3,3.5000,0.5000,2.3000,4.7000,,,,,");
    assert.equal(tuned, 'bioasq,m,lora,200,0,accuracy,3,3.5000,0.5000,2.3000,4.7000,-0.2500,-0.5000,0,"a,1",peft');
    assert.equal(end, "");
  });
});
