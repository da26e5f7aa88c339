import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadDataset } from "@ragtune/datasets";
import { DEMO_CORPUS_VERSION } from "@ragtune/demo-corpus";
import { describeRun, resolveDataSource, standIns } from "./data-source.js";

describe("ragtune run's data source", () => {
  let root: string;
  const saved = process.env.RAGTUNE_DATASETS_DIR;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "data-source-"));
    delete process.env.RAGTUNE_DATASETS_DIR;
  });
  after(async () => {
    if (saved !== undefined) process.env.RAGTUNE_DATASETS_DIR = saved;
    await rm(root, { recursive: true, force: true });
  });
  const datasets = ["bioasq", "nq-open"];
  const nowhere = () => join(root, "no-shared");

  it("falls back to the demo corpus, written once into <state>/demo-corpus and loadable", async () => {
    const stateDir = join(root, "state");
    const first = await resolveDataSource({ datasets, stateDir, sharedDir: nowhere() });
    assert.equal(first.dir, join(stateDir, "demo-corpus"));
    assert.deepEqual(first.demo, { seed: 0, generated: true, version: DEMO_CORPUS_VERSION });
    assert.equal((await loadDataset("nq-open", join(first.dir, "nq"))).items.length, 1400);
    const again = await resolveDataSource({ datasets, stateDir, sharedDir: nowhere() });
    assert.equal(again.demo?.generated, false);
    const about = describeRun(first, standIns({ backend: "extractive", judgeMode: "reference" })).join("\n");
    assert.match(about, /demo corpus: fictional data/);
    assert.match(about, /STAND-IN model: the extractive reader/);
    assert.match(about, /STAND-IN fine-tune: .*instead of LoRA/);
    assert.match(about, /STAND-IN judge: the reference-overlap scorer.*instead of G-Eval/);
  });

  it("prefers a dataset folder: --data, the state folder's datasets/<name>, the shared samples", async () => {
    assert.deepEqual(await resolveDataSource({ data: "/x/y", datasets, stateDir: root, sharedDir: nowhere() }), {
      dir: "/x/y",
    });
    const stateDir = join(root, "with-datasets");
    await mkdir(join(stateDir, "datasets", "nq"), { recursive: true });
    const local = await resolveDataSource({ datasets, stateDir, sharedDir: nowhere() });
    assert.deepEqual(local, { dir: join(stateDir, "datasets") });
    assert.equal(existsSync(join(stateDir, "demo-corpus")), false);
    const shared = join(root, "shared");
    await mkdir(join(shared, "bioasq"), { recursive: true });
    assert.deepEqual(await resolveDataSource({ datasets, stateDir, sharedDir: shared }), { dir: shared });
  });

  it("refuses a RAGTUNE_DATASETS_DIR that does not exist instead of running on something else", async () => {
    process.env.RAGTUNE_DATASETS_DIR = join(root, "missing");
    try {
      await assert.rejects(
        resolveDataSource({ datasets, stateDir: root, sharedDir: nowhere() }),
        /RAGTUNE_DATASETS_DIR=/,
      );
    } finally {
      delete process.env.RAGTUNE_DATASETS_DIR;
    }
  });

  it("names no stand-in when an LLM generator and an LLM judge are configured", () => {
    assert.deepEqual(standIns({ backend: "openai", judgeMode: "logprob" }), []);
  });
});
