/** Spec files as `ragtune run SPEC` and `ragtune validate` read them: files written by the test, and examples/. */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { ScoringMode } from "@ragtune/contracts/judge";
import { repoRoot } from "../stack.js";
import { formatProblem, questionsNeeded, readSpecFile } from "./spec-file.js";

describe("spec files", () => {
  let dir: string;
  let stateDir: string;
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const lines = async (file: string, checkFiles = true) =>
    (await readSpecFile(file, { stateDir, checkFiles })).problems.map((p) => formatProblem(file, p));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "ragtune-spec-"));
    stateDir = join(dir, "state");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads YAML in the protobuf JSON mapping: every field, paths relative to the file, demo: datasets", async () => {
    const file = write(
      "full.yaml",
      `name: full
datasets:
  - {format: bioasq, paths: ["demo:bioasq"], name: bio}
  - {format: qasper, paths: ["demo:qasper"]}
base_models: [{base_model: m, backend: openai}]
finetune_sizes: [0, 200]
methods: [FINE_TUNE_METHOD_LORA, FINE_TUNE_METHOD_QLORA]
hyperparameters: [{epochs: 2, micro_batch_size: 8, gradient_accumulation_steps: 2, learning_rate: 1e-4,
  lora_rank: 8, lora_alpha: 16, lora_dropout: 0.1, target_modules: [q_proj]}]
chunking: {chunk_size: 800, chunk_overlap: 100}
top_k: 3
judge: {model: {base_model: j, backend: openai}, mode: SCORING_MODE_N_SAMPLE, repeats: 4, samples: 5,
  temperature: 0.7, repeat_strategy: REPEAT_STRATEGY_INDEPENDENT_CALLS}
criteria: [accuracy]
eval_size: 100
seed: "42"
generation: {sampling: {temperature: 0.2, top_p: 0.9, max_tokens: 128, seed: 7, stop: ["\\n\\n"]},
  template_id: rag-default@1, truncation: TRUNCATION_POLICY_DISABLED}
backend_concurrency: [{backend: openai, generate: 16, judge: 2}]
`,
    );
    const read = await readSpecFile(file, { stateDir });
    assert.deepEqual(read.problems, []);
    const spec = read.spec!;
    assert.equal(spec.datasets[0].paths[0], join(stateDir, "demo-corpus", "bioasq"));
    assert.equal(spec.datasets[0].name, "bio");
    assert.deepEqual(spec.methods, [FineTuneMethod.LORA, FineTuneMethod.QLORA]);
    assert.equal(spec.hyperparameters[0].loraRank, 8);
    assert.equal(spec.chunking!.chunkOverlap, 100);
    assert.equal(spec.judge!.mode, ScoringMode.N_SAMPLE);
    assert.equal(spec.seed, 42n);
    assert.equal(spec.generation!.sampling!.topP, 0.9);
    assert.deepEqual(spec.generation!.sampling!.stop, ["\n\n"]);
    assert.equal(spec.backendConcurrency[0].generate, 16);
    assert.equal(read.demo?.asked, true);
  });

  it("reads JSON too, with relative paths resolved against the file's folder", async () => {
    const file = write(
      "plain.json",
      JSON.stringify({
        name: "j",
        datasets: [{ format: "bioasq", paths: ["state/demo-corpus/bioasq"] }],
        baseModels: [{ baseModel: "m" }],
      }),
    );
    // camelCase keys are the mapping's JSON names; both spellings are accepted.
    const read = await readSpecFile(file, { stateDir, checkFiles: false });
    assert.deepEqual(read.problems, []);
    assert.equal(read.spec!.datasets[0].paths[0], join(dir, "state/demo-corpus/bioasq"));
  });

  it("lists every problem with its path and line: unknown fields, wrong types, values, missing files, sizes", async () => {
    const file = write(
      "bad.yaml",
      `name: bad
datasets:
  - format: bioasq
    paths: ["demo:bioasq"]
  - format: qasper
    paths: [no/such/folder]
  - fromat: nq-open
base_models:
  - {base_model: m, backend: openai, adaptor: x}
finetune_sizes: [0, 200, 1300, -5]
methods: [lora]
top_k: "five"
eval_size: 200
judge: {mode: SCORING_MODE_LOGPROB_WEIGHTED, repeats: 1000}
hyperparameters: {epochs: 3}
generation: {sampling: {temperature: 9}}
backend_concurrency: [{backend: openai}, {backend: openai, generate: 1000}]
seed: 1.5
`,
    );
    const got = await lines(file);
    const expected = [
      `${file}:6: datasets[1].paths[0]: no such file or folder: ${join(dir, "no/such/folder")}`,
      `${file}:7: datasets[2].fromat: unknown field of DatasetSpec (did you mean format?)`,
      `${file}:7: datasets[2].format: is required: one of bioasq, nq, nq-open, qasper`,
      `${file}:7: datasets[2].paths: must name at least one file or folder`,
      `${file}:9: base_models[0].adaptor: unknown field of ModelRef (did you mean adapter?)`,
      `${file}:10: finetune_sizes[3]: must be in 0..4294967295 (uint32), got -5`,
      `${file}:10: finetune_sizes[2]: 1300 needs 1,500 questions, bioasq has 1,400`,
      `${file}:11: methods[0]: "lora" is not a FineTuneMethod: did you mean FINE_TUNE_METHOD_LORA? one of FINE_TUNE_METHOD_LORA, FINE_TUNE_METHOD_QLORA, FINE_TUNE_METHOD_HOSTED`,
      `${file}:12: top_k: must be a whole number (uint32), got "five"`,
      `${file}:14: judge.repeats: must be in 0..100, got 1000`,
      `${file}:15: hyperparameters: must be a list, got an object`,
      `${file}:16: generation.sampling.temperature: must be in 0..2, got 9`,
      `${file}:17: backend_concurrency[1].generate: must be in 0..256, got 1000`,
      `${file}:17: backend_concurrency[1].backend: "openai" is listed twice`,
      `${file}:18: seed: must be a whole number (uint64), got 1.5`,
    ];
    assert.deepEqual([...got].sort(), [...expected].sort(), got.join("\n"));
    // In the file's order, so a person reads them top to bottom.
    const lineNumbers = got.map((l) => Number(/:(\d+): /.exec(l.slice(file.length))![1]));
    assert.deepEqual(
      lineNumbers,
      [...lineNumbers].sort((a, b) => a - b),
    );
  });

  it("names syntax errors and a missing file", async () => {
    const broken = write("broken.yaml", "name: x\ndatasets: [\n");
    const [syntax] = await lines(broken);
    assert.match(syntax, /broken\.yaml:\d+: \(syntax\): /);
    const [missing] = await lines(join(dir, "absent.yaml"));
    assert.match(missing, /absent\.yaml: \(file\): ENOENT/);
    const notObject = write("list.json", "[1, 2]");
    assert.deepEqual(await lines(notObject), [
      `${notObject}: (top level): must be an object of ExperimentSpec fields, got a list`,
    ]);
  });

  it("counts the questions a pool needs as the split takes them", () => {
    assert.equal(questionsNeeded(1000, 200), 1200);
    // eval_size 0: the evaluation set is the rest, but at least a fifth of the questions.
    assert.equal(questionsNeeded(1000, 0), 1250);
    assert.equal(questionsNeeded(201, 0), 252);
    for (let size = 1; size < 2000; size += 37) {
      const n = questionsNeeded(size, 0);
      assert.ok(n - Math.ceil(n / 5) >= size && n - 1 - Math.ceil((n - 1) / 5) < size, `size ${size}: ${n}`);
    }
  });

  describe("examples/", () => {
    const examples = readdirSync(join(repoRoot, "examples")).filter((f) => /\.(ya?ml|json)$/.test(f));

    it("holds the demo, paper-on-vLLM, hosted and llama.cpp examples", () => {
      assert.deepEqual(examples.sort(), [
        "demo-corpus.yaml",
        "hosted-openai.yaml",
        "laptop-llamacpp.yaml",
        "paper-vllm-peft.yaml",
      ]);
    });

    for (const name of examples) {
      it(`${name} validates`, async () => {
        const file = join(repoRoot, "examples", name);
        // Paths of user data (the download cache) cannot exist here: those examples are checked for shape and
        // values only, and their paths for pointing into the cache. The demo example is checked in full.
        const shapeOnly = (await readSpecFile(file, { stateDir, checkFiles: false })).spec!;
        const userData = shapeOnly.datasets.some((d) => !d.paths[0].startsWith(join(stateDir, "demo-corpus")));
        const read = await readSpecFile(file, { stateDir, checkFiles: !userData });
        assert.deepEqual(read.problems, []);
        if (userData) {
          for (const d of read.spec!.datasets) assert.match(d.paths[0], /\/\.ragtune\/datasets\/(bioasq|nq|qasper)$/);
        }
      });
    }
  });
});
