import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { JobState, NodeSchema } from "@ragtune/contracts/trainer";
import { ManifestError } from "@ragtune/datasets";
import { CPU_JOB_HOST_BYTES } from "../estimate/memory-estimate.js";
import { withSpecDefaults } from "../spec/job-spec.js";
import { createMemoryRecordStore } from "../store/record-store.js";
import { assertRejectsWith, gpuNode, peftSubmit, readerSubmit } from "../testing/fixtures.js";
import { admitJob } from "./job-admission.js";
import { NodeRegistry } from "./node-registry.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");

async function nodesWith(...gpuGiB: number[][]) {
  const nodes = new NodeRegistry(createMemoryRecordStore(NodeSchema), 1000);
  for (const [i, gpus] of gpuGiB.entries()) await nodes.save(nodes.registered(gpuNode(`n${i}`, gpus), T0));
  return nodes;
}

function admit(parts: Parameters<typeof admitJob>[0], request = peftSubmit("j")) {
  return admitJob(parts, request, withSpecDefaults(request.spec), T0);
}

describe("job admission", () => {
  it("builds a QUEUED job with its GPU memory estimate, batch size and default attempts", async () => {
    const job = await admit({ nodes: await nodesWith([80]) });
    assert.equal(job.state, JobState.QUEUED);
    assert.equal(job.maxAttempts, 3);
    assert.equal(job.effectiveBatchSize, 4);
    assert.ok(Number(job.estimatedMemoryBytes) > 4 * 1024 ** 3);
    const reader = await admit({ nodes: await nodesWith() }, readerSubmit("r"));
    assert.equal(Number(reader.estimatedMemoryBytes), CPU_JOB_HOST_BYTES);
  });

  it("refuses a model of unknown size, and a job no registered GPU holds (but not before any GPU registered)", async () => {
    await assertRejectsWith(
      admit({ nodes: await nodesWith() }, peftSubmit("j", { baseModel: "my-own-model" })),
      Code.InvalidArgument,
      /^spec\.base_model: cannot tell the size/,
    );
    await assertRejectsWith(
      admit({ nodes: await nodesWith([8]) }),
      Code.FailedPrecondition,
      /largest registered GPU has 8\.0 GiB/,
    );
    assert.equal((await admit({ nodes: await nodesWith() })).state, JobState.QUEUED);
  });

  it("checks the declared size against the pool in the manifest, and refuses a malformed manifest", async () => {
    const nodes = await nodesWith([80]);
    await assertRejectsWith(
      admit({ nodes, poolSize: async () => 100 }),
      Code.InvalidArgument,
      /^spec\.training_data\.size/,
    );
    await assertRejectsWith(
      admit({
        nodes,
        poolSize: async () => {
          throw new ManifestError("pool finetune-200 is missing");
        },
      }),
      Code.InvalidArgument,
      /^spec\.training_data: .*finetune-200/,
    );
    // A manifest this process cannot read at all is the agent's to read.
    const unreadable = await admit({
      nodes,
      poolSize: async () => {
        throw new Error("ENOENT");
      },
    });
    assert.equal(unreadable.state, JobState.QUEUED);
  });
});
