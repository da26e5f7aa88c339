import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { estimateTrainingMemory, GIB } from "./memory-estimate.js";
import { lookupModelShape, parseParameterCount } from "./model-catalog.js";

const base = {
  baseModel: "meta-llama/Llama-2-7b-hf",
  method: FineTuneMethod.LORA,
  loraRank: 16,
  targetModules: [] as string[],
  maxSeqLength: 2048,
  microBatchSize: 4,
};

describe("model catalog", () => {
  it("reads parameter counts out of model names", () => {
    assert.equal(parseParameterCount("org/some-13b-chat"), 13e9);
    assert.equal(parseParameterCount("TinyLlama-1.1B"), 1.1e9);
    assert.equal(parseParameterCount("pythia-350m"), 350e6);
    assert.equal(parseParameterCount("/models/my-model"), undefined);
  });

  it("knows the paper's models and scales unknown sizes from the nearest known shape", () => {
    assert.equal(lookupModelShape("mistralai/Mistral-7B-Instruct-v0.2")?.kvHeads, 8);
    assert.equal(lookupModelShape("meta-llama/Llama-2-13b-chat-hf")?.layers, 40);
    const scaled = lookupModelShape("acme/foo-30b");
    assert.equal(scaled?.parameters, 30e9);
    assert.ok((scaled?.hidden ?? 0) > 5120 && (scaled?.hidden ?? 0) < 8192);
    assert.equal(lookupModelShape("/models/unnamed"), undefined);
  });
});

describe("estimateTrainingMemory", () => {
  it("counts LoRA parameters as PEFT does (Llama-2-7B, q/v, r=16: 8,388,608)", () => {
    assert.equal(estimateTrainingMemory(base)?.loraParameters, 8_388_608);
  });

  it("gives 16-bit 7B LoRA about 13.5 GB of weights and QLoRA under a third of that", () => {
    const lora = estimateTrainingMemory(base);
    const qlora = estimateTrainingMemory({ ...base, method: FineTuneMethod.QLORA });
    assert.ok(lora && qlora);
    assert.ok(Math.abs(lora.weightsBytes - 13.48e9) < 0.05e9);
    assert.ok(qlora.weightsBytes < lora.weightsBytes / 3);
    assert.ok(lora.totalBytes > 16 * GIB && lora.totalBytes < 32 * GIB, `${lora.totalBytes / GIB} GiB`);
    assert.ok(qlora.totalBytes > 5 * GIB && qlora.totalBytes < lora.totalBytes - 8 * GIB);
  });

  it("grows with micro-batch, sequence length, rank and target modules", () => {
    const total = (o: Partial<typeof base>) => estimateTrainingMemory({ ...base, ...o })?.totalBytes ?? 0;
    assert.ok(total({ microBatchSize: 8 }) > total({}));
    assert.ok(total({ maxSeqLength: 4096 }) > total({}));
    assert.ok(total({ loraRank: 64 }) > total({}));
    assert.ok(total({ targetModules: ["all-linear"] }) > total({ targetModules: ["q_proj", "v_proj"] }));
  });

  it("returns undefined for a model of unknown size", () => {
    assert.equal(estimateTrainingMemory({ ...base, baseModel: "/models/unnamed" }), undefined);
  });
});
