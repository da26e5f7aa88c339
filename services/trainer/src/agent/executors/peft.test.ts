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
import {
  buildPeftArgs,
  buildPeftExamples,
  createPeftExecutor,
  PEFT_RUNNER_PATH,
  peftJsonl,
  renderTrainingJsonl,
} from "./peft.js";
import { startTokenCounter, type TokenCounter } from "./token-counter.js";

const python = spawnSync("python3", ["--version"]).status === 0;
const jinja = python && spawnSync("python3", ["-c", "import jinja2"]).status === 0;
const torchStack = python && spawnSync("python3", ["-c", "import torch, transformers, peft"]).status === 0;
const PYTHON_DIR = join(PEFT_RUNNER_PATH, "..");

/** One token per whitespace-separated word, plus 4 per message for the chat template's framing. */
const wordCounter: TokenCounter = {
  countMessages: async (messages) =>
    messages.reduce((sum, m) => sum + 4 + m.content.split(/\s+/).filter(Boolean).length, 0),
  countText: async (text) => text.split(/\s+/).filter(Boolean).length,
  close: async () => {},
};
const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(" ");

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

  it("renders training data as the generator's chat messages for the model, answer as the completion", async () => {
    const options = { baseModel: "Qwen/Qwen2-7B-Instruct", maxSeqLength: 2048, counter: wordCounter };
    const [first] = (await renderTrainingJsonl(pairs, options))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      first.messages.map((m: { role: string }) => m.role),
      ["system", "user"],
    );
    assert.match(first.messages[1].content, /Who founded the Orrin Institute\?/);
    assert.match(first.messages[1].content, /founded by Mara Voss in 1921/);
    assert.equal(first.completion, "Mara Voss");
    assert.equal(first.truncation, undefined);
    // Mistral v0.2's template rejects a system role; serving folds it into the user turn, and so does training.
    const [mistral] = await buildPeftExamples(pairs, { ...options, baseModel: "mistralai/Mistral-7B-Instruct-v0.2" });
    assert.deepEqual(
      mistral.messages.map((m) => m.role),
      ["user"],
    );
    assert.ok(mistral.messages[0].content.startsWith(first.messages[0].content));
  });

  it("fits a long prompt by the serving rule: instructions and the top chunk stay, the lowest-ranked go", async () => {
    const long: TrainingPair = {
      ...pairs[0],
      answer: words(5, "ans"),
      contexts: [
        { text: words(100, "top"), sourceId: "d1" },
        { text: words(100, "mid"), sourceId: "d2" },
        { text: words(100, "low"), sourceId: "d3" },
      ],
    };
    const options = { baseModel: "m", maxSeqLength: 300, counter: wordCounter };
    const [fitted] = await buildPeftExamples([long], options);
    const [whole] = await buildPeftExamples([long], { ...options, maxSeqLength: 4096 });
    assert.equal(fitted.truncation, "dropped context 3 of 3");
    assert.equal(fitted.messages[0].content, whole.messages[0].content, "the instructions are whole");
    assert.ok(fitted.messages[1].content.includes(long.contexts[0].text), "the top-ranked chunk is whole");
    assert.ok(!fitted.messages[1].content.includes("low0"));
    assert.ok(fitted.messages[1].content.endsWith(whole.messages[1].content.slice(-60)), "the question stays");
    const used = (await wordCounter.countMessages(fitted.messages)) + 5 + 1;
    assert.ok(used <= 300, `prompt, answer and EOS take ${used} of 300 tokens`);

    const [cut] = await buildPeftExamples([long], { ...options, maxSeqLength: 150 });
    assert.match(cut.truncation ?? "", /^dropped contexts 2-3 of 3; shortened context 1 to \d+ of \d+ characters$/);
    assert.ok(cut.messages[1].content.includes("top0 top1"));
    assert.equal(cut.messages[0].content, whole.messages[0].content);
    await assert.rejects(buildPeftExamples([long], { ...options, maxSeqLength: 60 }), (e: ExecutorFailure) => {
      assert.equal(e.failureClass, FailureClass.USER_ERROR);
      assert.match(e.message, /training pair 1: .* do not fit max_seq_length 60/);
      return true;
    });
  });

  it("counts tokens through the runner's protocol with a real chat template", {
    skip: !jinja && "python3 with jinja2 is not here",
  }, async () => {
    const counter = startTokenCounter("python3", [join(PYTHON_DIR, "chat_template_testing.py"), "count", "chatml"]);
    try {
      const messages = [
        { role: "system" as const, content: "S" },
        { role: "user" as const, content: "hi" },
      ];
      // "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n": 5 specials, 27 bytes.
      assert.deepEqual(await Promise.all([counter.countMessages(messages), counter.countText("three")]), [32, 5]);
    } finally {
      await counter.close();
    }
    const mistral = startTokenCounter("python3", [join(PYTHON_DIR, "chat_template_testing.py"), "count", "mistral"]);
    try {
      await assert.rejects(
        mistral.countMessages([
          { role: "system", content: "S" },
          { role: "user", content: "hi" },
        ]),
        (e: ExecutorFailure) => e.failureClass === FailureClass.USER_ERROR && /roles must alternate/.test(e.message),
      );
    } finally {
      await mistral.close();
    }
  });

  it("runner's Python tests pass (example building against apply_chat_template)", {
    skip: !python && "no python3",
  }, () => {
    const result = spawnSync("python3", ["-m", "unittest", "test_peft_runner"], { cwd: PYTHON_DIR, encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^OK/m);
  });

  it("runner --check validates the arguments and data without torch", { skip: !python && "no python3" }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "peft-check-"));
    try {
      const data = join(dir, "train.jsonl");
      await writeFile(
        data,
        peftJsonl(await buildPeftExamples(pairs, { baseModel: "m", maxSeqLength: 2048, counter: wordCounter })),
      );
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
