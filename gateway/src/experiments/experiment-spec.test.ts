import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { ExperimentSpecSchema } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import {
  backendConcurrency,
  DEFAULT_CRITERIA,
  DEFAULT_FINETUNE_SIZES,
  specProblems,
  validateExperimentSpec,
  withDefaults,
} from "./experiment-spec.js";

type SpecInit = Extract<MessageInitShape<typeof ExperimentSpecSchema>, { $typeName?: undefined }>;

const minimal: SpecInit = {
  name: "e",
  datasets: [{ format: "bioasq", paths: ["data/bioasq.json"] }],
  baseModels: [{ baseModel: "extractive-reader" }],
};
const spec = (init: SpecInit = {}) => create(ExperimentSpecSchema, { ...minimal, ...init });

describe("experiment spec defaults", () => {
  it("fills in the paper's protocol", () => {
    const full = withDefaults(spec({ seed: 7n }));
    assert.equal(full.datasets[0].name, "bioasq");
    assert.deepEqual(full.finetuneSizes, DEFAULT_FINETUNE_SIZES);
    assert.deepEqual(full.finetuneSizes, [0, 200, 500, 1000]);
    assert.deepEqual(full.methods, [FineTuneMethod.LORA]);
    assert.equal(full.chunking?.chunkSize, 1500);
    assert.equal(full.chunking?.chunkOverlap, 0);
    assert.equal(full.topK, 5);
    assert.deepEqual(full.criteria, DEFAULT_CRITERIA);
    assert.deepEqual(full.criteria, ["accuracy", "completeness"]);
    assert.equal(full.judge?.repeats, 10);
    // No judge model named: the model-free reference scorer, not a G-Eval that has no model to ask.
    assert.equal(full.judge?.mode, ScoringMode.REFERENCE);
    const [h] = full.hyperparameters;
    assert.deepEqual(
      [h.epochs, h.microBatchSize, h.gradientAccumulationSteps, h.learningRate, h.loraRank, h.loraAlpha, h.loraDropout],
      [3, 4, 1, 2e-4, 16, 32, 0.05],
    );
    assert.equal(full.generation?.sampling?.maxTokens, 256);
    assert.equal(full.generation?.sampling?.seed, 7n);
  });

  it("keeps what the spec sets", () => {
    const given = spec({
      datasets: [{ format: "nq-open", name: "nq", paths: ["n"] }],
      finetuneSizes: [0, 50],
      methods: [FineTuneMethod.QLORA],
      hyperparameters: [{ loraRank: 64, epochs: 1 }],
      chunking: { chunkSize: 800, chunkOverlap: 100 },
      topK: 3,
      judge: { mode: ScoringMode.N_SAMPLE, repeats: 2 },
      criteria: ["faithfulness"],
      generation: { sampling: { maxTokens: 64, seed: 3n } },
    });
    const full = withDefaults(given);
    assert.equal(full.datasets[0].name, "nq");
    assert.deepEqual(full.finetuneSizes, [0, 50]);
    assert.deepEqual(full.methods, [FineTuneMethod.QLORA]);
    assert.equal(full.hyperparameters[0].loraRank, 64);
    assert.equal(full.hyperparameters[0].epochs, 1);
    assert.equal(full.hyperparameters[0].loraAlpha, 32);
    assert.deepEqual([full.chunking?.chunkSize, full.chunking?.chunkOverlap, full.topK], [800, 100, 3]);
    assert.deepEqual([full.judge?.mode, full.judge?.repeats], [ScoringMode.N_SAMPLE, 2]);
    assert.deepEqual(full.criteria, ["faithfulness"]);
    assert.deepEqual([full.generation?.sampling?.maxTokens, full.generation?.sampling?.seed], [64, 3n]);
    // The caller's spec is left as it was given.
    assert.equal(given.hyperparameters[0].loraAlpha, 0);
  });

  it("gives logprob weighting its one repeat (deterministic per request) and refuses more, naming judge.repeats", () => {
    const logprob = { mode: ScoringMode.LOGPROB_WEIGHTED };
    assert.equal(withDefaults(spec({ judge: logprob })).judge?.repeats, 1);
    assert.equal(withDefaults(spec({ judge: { mode: ScoringMode.SINGLE } })).judge?.repeats, 10);
    assert.deepEqual(specProblems(spec({ judge: { ...logprob, repeats: 1 } })), []);
    const [problem] = specProblems(spec({ judge: { ...logprob, repeats: 10 } }));
    assert.equal(problem.path, "judge.repeats");
    assert.match(problem.message, /LOGPROB_WEIGHTED takes 1 repeat \(deterministic per request\), got 10/);
  });

  it("gives each backend its own concurrency, and the defaults to the others", () => {
    const s = spec({
      backendConcurrency: [
        { backend: "vllm", generate: 32 },
        { backend: "openai", judge: 16, judgeRequestsPerCall: 50 },
      ],
    });
    assert.deepEqual(backendConcurrency(s, "vllm"), { generate: 32, judge: 1, judgeRequestsPerCall: 0 });
    assert.deepEqual(backendConcurrency(s, "openai"), { generate: 8, judge: 16, judgeRequestsPerCall: 50 });
    assert.deepEqual(backendConcurrency(s, "extractive"), { generate: 8, judge: 1, judgeRequestsPerCall: 0 });
    const [problem] = specProblems(spec({ backendConcurrency: [{ backend: "openai", judgeRequestsPerCall: 257 }] }));
    assert.equal(problem.path, "backend_concurrency[0].judge_requests_per_call");
  });
});

describe("experiment spec validation", () => {
  it("accepts a minimal spec", () => {
    assert.deepEqual(specProblems(spec()), []);
    validateExperimentSpec(spec());
  });

  it("lists every problem with its field path, in field order", () => {
    const problems = specProblems(
      spec({
        name: "",
        datasets: [
          { format: "csv", paths: ["a"] },
          { format: "bioasq", paths: [] },
        ],
        baseModels: [],
        chunking: { chunkSize: 500, chunkOverlap: 500 },
      }),
    );
    assert.deepEqual(
      problems.map((p) => p.path),
      ["name", "datasets[0].format", "datasets[1].paths", "base_models", "chunking.chunk_overlap"],
    );
    for (const p of problems) assert.ok(p.message.length > 0, p.path);
  });

  it("refuses two datasets of one name and a size, method or criterion listed twice", () => {
    const problems = specProblems(
      spec({
        datasets: [
          { format: "bioasq", paths: ["a"] },
          { format: "bioasq", paths: ["b"] },
        ],
        finetuneSizes: [0, 200, 200],
        methods: [FineTuneMethod.LORA, FineTuneMethod.LORA],
        criteria: ["accuracy", "accuracy"],
      }),
    );
    const paths = problems.map((p) => p.path);
    for (const path of ["datasets[1].name", "finetune_sizes[2]", "methods[1]", "criteria[1]"]) {
      assert.ok(paths.includes(path), `${path} in ${paths.join(", ")}`);
    }
  });

  it("is INVALID_ARGUMENT starting with the first problem's path, naming the others after it", () => {
    assert.throws(
      () => validateExperimentSpec(spec({ name: "", baseModels: [] })),
      (e: unknown) => {
        assert.ok(e instanceof ConnectError);
        assert.equal(e.code, Code.InvalidArgument);
        assert.match(e.rawMessage, /^spec\.name: .*\(and spec\.base_models: /);
        return true;
      },
    );
    assert.throws(
      () => validateExperimentSpec(undefined),
      (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument && /^spec: /.test(e.rawMessage),
    );
  });
});
