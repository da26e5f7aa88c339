import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { ExperimentSpecSchema } from "@ragtune/contracts/gateway";
import { CELL_KEY_TOKENS, enumerateCells, jobIdFor, MAX_JOB_ID_LENGTH } from "./cells.js";
import { countCells, withDefaults } from "./experiment-spec.js";

const spec = (init: Parameters<typeof create<typeof ExperimentSpecSchema>>[1]) =>
  withDefaults(create(ExperimentSpecSchema, { name: "e", ...init }));

describe("cell enumeration", () => {
  it("makes the paper's grid: a base cell and one per size × method × hyperparameter set, per dataset × model", () => {
    const grid = spec({
      datasets: [
        { format: "bioasq", paths: ["b"] },
        { format: "nq-open", paths: ["n"] },
      ],
      baseModels: [{ baseModel: "mistralai/Mistral-7B-Instruct-v0.2" }, { baseModel: "meta-llama/Llama-2-7b-chat-hf" }],
      methods: [FineTuneMethod.LORA, FineTuneMethod.QLORA],
      hyperparameters: [{ loraRank: 8 }, { loraRank: 16 }],
    });
    const cells = enumerateCells(grid);
    // 2 datasets × 2 models × (1 base + 3 sizes × 2 methods × 2 hyperparameter sets)
    assert.equal(cells.length, 2 * 2 * (1 + 3 * 2 * 2));
    assert.equal(cells.length, countCells(grid));
    const first = cells.slice(0, 3).map((c) => c.key);
    assert.deepEqual(first, [
      "bioasq.m0-mistralai-Mistral-7B-Instruct-v0-2.base",
      "bioasq.m0-mistralai-Mistral-7B-Instruct-v0-2.lora-200-h0",
      "bioasq.m0-mistralai-Mistral-7B-Instruct-v0-2.lora-200-h1",
    ]);
    const base = cells[0];
    assert.equal(base.size, 0);
    assert.equal(base.method, FineTuneMethod.UNSPECIFIED);
    assert.equal(base.hyperparameters, undefined);
    const qlora = cells.find((c) => c.key === "nq-open.m1-meta-llama-Llama-2-7b-chat-hf.qlora-1000-h1");
    assert.ok(qlora);
    assert.equal(qlora.dataset.name, "nq-open");
    assert.equal(qlora.modelIndex, 1);
    assert.equal(qlora.size, 1000);
    assert.equal(qlora.hyperparameters?.loraRank, 16);
    assert.equal(qlora.hyperparametersIndex, 1);
  });

  it("gives every cell a distinct key of KV-safe characters, the same on every enumeration", () => {
    const grid = spec({
      datasets: [{ format: "qasper", name: "papers (2024)", paths: ["q"] }],
      baseModels: [{ baseModel: "org/model:v1" }, { baseModel: "org/model:v1" }, { baseModel: "///" }],
      finetuneSizes: [0, 200],
    });
    const keys = enumerateCells(grid).map((c) => c.key);
    assert.equal(new Set(keys).size, keys.length, keys.join(" "));
    for (const key of keys) assert.match(key, /^[A-Za-z0-9_.-]+$/);
    // Exactly CELL_KEY_TOKENS non-empty KV key tokens: what lets a listing match one experiment's keys exactly.
    for (const key of keys) assert.deepEqual(key.split(".").length, CELL_KEY_TOKENS, key);
    for (const key of keys) assert.ok(key.split(".").every(Boolean), key);
    assert.deepEqual(
      keys,
      enumerateCells(grid).map((c) => c.key),
    );
    // Two entries of one model stay apart by their index; a name with no usable character still gives a key.
    assert.ok(keys.includes("papers-2024.m0-org-model-v1.base"));
    assert.ok(keys.includes("papers-2024.m1-org-model-v1.base"));
    assert.ok(keys.includes("papers-2024.m2-x.lora-200-h0"));
  });

  it("shortens long names in keys without losing the cell's identity", () => {
    const long = "a".repeat(100);
    const [cell] = enumerateCells(
      spec({ datasets: [{ format: "bioasq", name: long, paths: ["b"] }], baseModels: [{ baseModel: long }] }),
    );
    assert.equal(cell.key, `${"a".repeat(40)}.m0-${"a".repeat(40)}.base`);
    assert.equal(cell.dataset.name, long);
    assert.equal(cell.model.baseModel, long);
  });

  it("has no base cell without size 0, and only base cells with sizes {0}", () => {
    const tunedOnly = spec({
      datasets: [{ format: "bioasq", paths: ["b"] }],
      baseModels: [{ baseModel: "m" }],
      finetuneSizes: [500, 200],
    });
    assert.deepEqual(
      enumerateCells(tunedOnly).map((c) => c.key),
      ["bioasq.m0-m.lora-500-h0", "bioasq.m0-m.lora-200-h0"],
    );
    const baseOnly = spec({
      datasets: [{ format: "bioasq", paths: ["b"] }],
      baseModels: [{ baseModel: "m" }],
      finetuneSizes: [0],
      methods: [FineTuneMethod.LORA, FineTuneMethod.QLORA],
    });
    assert.deepEqual(
      enumerateCells(baseOnly).map((c) => c.key),
      ["bioasq.m0-m.base"],
    );
    assert.equal(countCells(baseOnly), 1);
  });

  it("gives two cells whose ids agree on their first 128 characters two job ids the trainer takes", () => {
    const experimentId = "e".repeat(64);
    const grid = spec({
      datasets: [{ format: "bioasq", name: "d".repeat(40), paths: ["b"] }],
      baseModels: [{ baseModel: "m".repeat(40) }],
      finetuneSizes: [200, 500],
      methods: [FineTuneMethod.LORA, FineTuneMethod.QLORA],
    });
    const keys = enumerateCells(grid).map((c) => c.key);
    // Cut at 128 characters, as job ids used to be, these cells would share trainer jobs.
    const cut = keys.map((k) => `${experimentId}.${k}`.slice(0, MAX_JOB_ID_LENGTH));
    assert.ok(new Set(cut).size < keys.length, "the grid does not exercise the cut");
    const ids = keys.map((k) => jobIdFor(experimentId, k));
    assert.equal(new Set(ids).size, ids.length, ids.join("\n"));
    // The trainer's job id rule (services/trainer validation.ts) and the adapter id rule (adapter-archive).
    for (const id of ids) assert.match(id, /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
    assert.deepEqual(
      ids,
      keys.map((k) => jobIdFor(experimentId, k)),
    );
    // A short id is kept as it reads.
    assert.equal(jobIdFor("exp-1", "bioasq.m0-m.base"), "exp-1.bioasq.m0-m.base");
  });
});
