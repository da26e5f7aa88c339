import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseNvidiaSmiCsv, probeGpus } from "./gpu-probe.js";

describe("GPU probe", () => {
  it("parses nvidia-smi CSV in MiB, names with commas included", () => {
    const gpus = parseNvidiaSmiCsv("0, NVIDIA H100 80GB HBM3, 81559, 80993\n1, NVIDIA A100-SXM4-40GB, 40960, 1024\n");
    assert.equal(gpus.length, 2);
    assert.equal(gpus[0].name, "NVIDIA H100 80GB HBM3");
    assert.equal(gpus[0].memoryTotalBytes, 81559n * 1024n * 1024n);
    assert.equal(gpus[1].index, 1);
    assert.equal(gpus[1].memoryFreeBytes, 1024n * 1024n * 1024n);
    assert.equal(parseNvidiaSmiCsv("0, Weird, Name, 100, 50")[0].name, "Weird,Name");
  });

  it("rejects lines it cannot read", () => {
    assert.throws(() => parseNvidiaSmiCsv("0, GPU, lots, some"), /unexpected nvidia-smi line/);
  });

  it("reports a machine without nvidia-smi as CPU-only", async () => {
    assert.deepEqual(await probeGpus("/nonexistent/nvidia-smi"), []);
  });
});
