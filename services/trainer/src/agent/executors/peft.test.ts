import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { FailureClass, JobSchema } from "@ragtune/contracts/trainer";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withSpecDefaults } from "../../spec/job-spec.js";
import type { TrainingPair } from "../training-pairs.js";
import type { ExecutorFailure } from "./executor.js";
import { buildPeftArgs, createPeftExecutor, PEFT_RUNNER_PATH, renderTrainingJsonl } from "./peft.js";

const python = spawnSync("python3", ["--version"]).status === 0;
const torchStack = python && spawnSync("python3", ["-c", "import torch, transformers, peft"]).status === 0;

const pairs: TrainingPair[] = [
  {
    id: "1",
    question: "Who founded the Orrin Institute?",
    answer: "Mara Voss",
    answers: ["Mara Voss"],
    contexts: [{ text: "The Orrin Institute was founded by Mara Voss in 1921.", sourceId: "doc-1" }],
  },
  {
    id: "2",
    question: "How many moons does Kepra have?",
    answer: "three",
    answers: ["three"],
    contexts: [{ text: "Kepra has three moons.", sourceId: "doc-2" }],
  },
];

const spec = withSpecDefaults(
  create(JobSchema, {
    spec: {
      baseModel: "mistralai/Mistral-7B-Instruct-v0.2",
      method: FineTuneMethod.QLORA,
      loraRank: 8,
      loraAlpha: 16,
      microBatchSize: 1,
      gradientAccumulationSteps: 2,
    },
  }).spec,
);

function runner(args: string[]) {
  const result = spawnSync("python3", [PEFT_RUNNER_PATH, ...args], { encoding: "utf8" });
  return {
    status: result.status,
    events: result.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l)),
  };
}

describe("PEFT executor", () => {
  it("turns a spec into runner arguments", () => {
    const args = buildPeftArgs(spec, { data: "d.jsonl", output: "out" });
    const value = (flag: string) => args[args.indexOf(flag) + 1];
    assert.equal(value("--method"), "qlora");
    assert.equal(value("--lora-rank"), "8");
    assert.equal(value("--gradient-accumulation-steps"), "2");
    assert.equal(value("--lr-schedule"), "linear");
    assert.equal(value("--target-modules"), "q_proj,v_proj");
  });

  it("renders training data in the generator's RAG template, answer as the completion", () => {
    const [first] = renderTrainingJsonl(pairs)
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.match(first.prompt, /Who founded the Orrin Institute\?/);
    assert.match(first.prompt, /founded by Mara Voss in 1921/);
    assert.equal(first.completion, " Mara Voss");
  });

  it("runner --check validates the arguments and data without torch", { skip: !python && "no python3" }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "peft-check-"));
    try {
      const data = join(dir, "train.jsonl");
      await writeFile(data, renderTrainingJsonl(pairs));
      const ok = runner(["--check", ...buildPeftArgs(spec, { data, output: join(dir, "out") })]);
      assert.equal(ok.status, 0);
      assert.equal(ok.events[0].metrics.examples, 2);
      assert.equal(ok.events[0].metrics.total_steps, 3);
      assert.equal(ok.events[0].metrics.effective_batch_size, 2);
      const bad = runner(["--check", "--data", data, "--lora-alpha", "0"]);
      assert.equal(bad.status, 4);
      assert.deepEqual(bad.events[0], { event: "error", class: "user_error", message: "lora_alpha: must be > 0" });
      await writeFile(data, "not json\n");
      assert.match(runner(["--check", "--data", data]).events[0].message, /data line 1: not JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("runner keeps BOS and the whole answer when it truncates a long prompt", { skip: !python && "no python3" }, () => {
    const script = [
      "import sys, json",
      `sys.path.insert(0, ${JSON.stringify(join(PEFT_RUNNER_PATH, ".."))})`,
      "import peft_runner as p",
      "print(json.dumps(p.encode_example(list(range(10, 30)), [1, 2, 3], 99, 8, [0])))",
    ].join("\n");
    const result = spawnSync("python3", ["-c", script], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), [
      [0, 27, 28, 29, 1, 2, 3, 99],
      [-100, -100, -100, -100, 1, 2, 3, 99],
    ]);
  });

  it("reports a node without torch as a user error, not a crash", {
    skip: (!python && "no python3") || (torchStack && "torch is installed here"),
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "peft-run-"));
    try {
      const job = create(JobSchema, { jobId: "p", spec });
      const run = createPeftExecutor().run({
        job,
        pairs,
        trainingDataSha256: "",
        workDir: dir,
        adapterDir: join(dir, "adapter"),
        signal: new AbortController().signal,
        onProgress: () => {},
      });
      await assert.rejects(run, (e: ExecutorFailure) => {
        assert.equal(e.failureClass, FailureClass.USER_ERROR);
        assert.match(e.message, /torch/);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("--smoke trains a tiny random llama", {
    skip: !torchStack && "torch, transformers and peft are not installed (CI has no GPU stack)",
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "peft-smoke-"));
    try {
      const result = runner(["--smoke", "--output", join(dir, "adapter")]);
      assert.equal(result.status, 0);
      assert.equal(result.events.at(-1).event, "done");
      assert.ok(result.events.some((e: { event: string }) => e.event === "progress"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
