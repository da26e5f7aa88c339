import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { withSpecDefaults } from "./spec/job-spec.js";
import { peftSubmit } from "./testing/fixtures.js";
import { validateAgainstPoolSize, validateSubmit } from "./validation.js";

function rejection(fn: () => void): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.InvalidArgument);
    return error.rawMessage;
  }
  assert.fail("expected INVALID_ARGUMENT");
}

const check = (request: ReturnType<typeof peftSubmit>) => () => validateSubmit(request, withSpecDefaults(request.spec));

describe("validateSubmit", () => {
  it("accepts the paper's QLoRA spec with defaults filled in", () => {
    const request = peftSubmit("ok-1");
    check(request)();
    const spec = withSpecDefaults(request.spec);
    assert.equal(spec.epochs, 3);
    assert.equal(spec.executor, "peft");
  });

  it("names the field of impossible hyperparameters", () => {
    assert.match(rejection(check(peftSubmit("a", { loraRank: 0 }))), /^spec\.lora_rank: /);
    assert.match(rejection(check(peftSubmit("a", { loraAlpha: -1 }))), /^spec\.lora_alpha: must be > 0/);
    assert.match(rejection(check(peftSubmit("a", { loraAlpha: 0 }))), /^spec\.lora_alpha: /);
    assert.match(rejection(check(peftSubmit("a", { loraDropout: 1 }))), /^spec\.lora_dropout: /);
    assert.match(rejection(check(peftSubmit("a", { epochs: 101 }))), /^spec\.epochs: must be 1\.\.100/);
    assert.match(rejection(check(peftSubmit("a", { method: 0 }))), /^spec\.method: /);
    assert.match(rejection(check(peftSubmit("bad id!"))), /^job_id: /);
  });

  it("refuses to fine-tune on the evaluation pool", () => {
    const request = peftSubmit("a", { trainingData: { manifestUri: "/tmp/none.json", pool: "eval", size: 200 } });
    assert.match(rejection(check(request)), /^spec\.training_data\.pool: is "eval"/);
  });

  it("rejects an effective batch larger than the declared pool", () => {
    const message = rejection(check(peftSubmit("a", { microBatchSize: 64, gradientAccumulationSteps: 4 })));
    assert.match(message, /^spec\.gradient_accumulation_steps: effective batch 256 .* pool of 200 pairs/);
  });

  it("rejects a declared size larger than the pool in the manifest", () => {
    const spec = withSpecDefaults(peftSubmit("a", { trainingData: { pool: "finetune-200", size: 500 } }).spec);
    assert.match(
      rejection(() => validateAgainstPoolSize(spec, 200)),
      /^spec\.training_data\.size: 500 is larger/,
    );
    validateAgainstPoolSize(spec, 500);
  });
});
