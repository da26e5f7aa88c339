/** The PEFT test stand-in is chosen only inside tests, and what it writes is a PEFT adapter folder that says so. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { JobSchema } from "@ragtune/contracts/trainer";
import { ConfigError } from "@ragtune/runtime";
import { PEFT_TEST_STAND_IN_ENV, peftTestStandInFromEnv } from "./peft-test-stand-in.js";

describe("PEFT test stand-in", () => {
  it("is refused outside NODE_ENV=test and absent unless asked for", () => {
    assert.equal(peftTestStandInFromEnv({ NODE_ENV: "test" }), undefined);
    for (const NODE_ENV of [undefined, "production", "development"]) {
      assert.throws(
        () => peftTestStandInFromEnv({ NODE_ENV, [PEFT_TEST_STAND_IN_ENV]: "1" }),
        (error: unknown) => error instanceof ConfigError && /NODE_ENV=test/.test(error.message),
      );
    }
  });

  it("writes adapter_config.json and a safetensors file whose header describes its LoRA tensors", async () => {
    const standIn = peftTestStandInFromEnv({ NODE_ENV: "test", [PEFT_TEST_STAND_IN_ENV]: "1" })!;
    assert.equal(standIn.executor.name, "peft");
    assert.match(standIn.gpus[0].name, /stand-in/);
    const dir = await mkdtemp(join(tmpdir(), "ragtune-stand-in-"));
    try {
      const job = create(JobSchema, {
        jobId: "j1",
        spec: { baseModel: "tiny-1b", epochs: 2, microBatchSize: 2, loraRank: 4, targetModules: ["q_proj"] },
      });
      const pair = { id: "q1", question: "q?", answer: "a", answers: ["a"], contexts: [] };
      const progress: bigint[] = [];
      const result = await standIn.executor.run({
        job,
        pairs: [pair, { ...pair, id: "q2" }, { ...pair, id: "q3" }],
        trainingDataSha256: "0".repeat(64),
        workDir: dir,
        adapterDir: dir,
        signal: new AbortController().signal,
        onProgress: (p) => progress.push(p.step ?? 0n),
      });
      assert.equal(result.metrics.test_stand_in, 1);
      assert.deepEqual(progress, [1n, 2n, 3n, 4n], "2 batches × 2 epochs");
      const config = JSON.parse(await readFile(join(dir, "adapter_config.json"), "utf8"));
      assert.equal(config.peft_type, "LORA");
      assert.equal(config.r, 4);
      assert.deepEqual(config.target_modules, ["q_proj"]);
      const bytes = await readFile(join(dir, "adapter_model.safetensors"));
      const headerLength = Number(bytes.readBigUInt64LE(0));
      assert.equal((8 + headerLength) % 8, 0, "data starts 8-byte aligned");
      const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString());
      const a = header["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"];
      assert.deepEqual(a.shape, [4, 64]);
      assert.equal(bytes.length, 8 + headerLength + 2 * 4 * 64 * 4, "A and B, F32");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
