/**
 * The main job end to end across processes: every service, a CPU node agent and NATS; an experiment on a
 * BioASQ-format file the test writes, through the gateway's gRPC API, with cancel and resume.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Experiment, ExperimentService, ExperimentState } from "@ragtune/contracts/gateway";
import { TrainerService } from "@ragtune/contracts/trainer";
import { createServiceClient } from "@ragtune/runtime";
import { type OtlpReceiver, startOtlpReceiver } from "./support/otlp-receiver.js";
import { readerExperimentSpec } from "./support/reader-experiment.js";
import { startTestStack, type TestStack } from "./support/stack.js";
import { writeSyntheticBioAsq } from "./support/synthetic-bioasq.js";

describe("an experiment across every service", () => {
  let stack: TestStack | undefined;
  let receiver: OtlpReceiver;
  let dataDir: string;
  let gridTraceId = "";
  const url = (name: string) => stack!.processes.find((p) => p.service.name === name)!.url;

  before(async () => {
    receiver = await startOtlpReceiver();
    stack = await startTestStack({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "200",
    });
    dataDir = join(stack.dataDir, "bioasq");
    mkdirSync(dataDir, { recursive: true });
    writeSyntheticBioAsq(dataDir, 90);
  });
  after(async () => {
    await stack?.stop();
    await receiver.close();
  });

  const spec = (sizes: number[]) => readerExperimentSpec({ name: "e2e", dataDir, sizes, seed: 3n });

  it("runs the grid, fine-tunes on held-out pools, and reports paired differences", async () => {
    const gateway = createServiceClient(ExperimentService, url("gateway"));
    await gateway.createExperiment({ experimentId: "e2e-grid", spec: spec([0, 30, 60]) });
    await gateway.startExperiment({ experimentId: "e2e-grid" });
    let final: Experiment | undefined;
    for await (const update of gateway.watchExperiment({ experimentId: "e2e-grid" })) final = update.experiment!;
    assert.equal(final!.state, ExperimentState.SUCCEEDED, `${final!.error}\n${stack!.logs.slice(-30).join("\n")}`);
    assert.equal(final!.cellsDone, 3);
    assert.match(final!.traceId, /^[0-9a-f]{32}$/);
    gridTraceId = final!.traceId;

    const { rows } = await gateway.getResults({ experimentId: "e2e-grid" });
    assert.equal(rows.length, 6, "3 cells × 2 criteria");
    for (const row of rows) {
      assert.equal(row.score!.n, 20, `${row.finetuneSize}/${row.criterion}: every evaluation question scored`);
      assert.ok(row.score!.mean >= 1 && row.score!.mean <= 5);
      assert.ok(row.score!.ci95Low <= row.score!.mean && row.score!.mean <= row.score!.ci95High);
      if (row.finetuneSize > 0) {
        assert.ok(row.adapterId, "tuned rows name their adapter");
        assert.equal(row.executor, "cpu-reader", "tuned rows say the reader's weights were trained, not LoRA");
        assert.ok(row.diffCi95Low <= row.diffVsBase && row.diffVsBase <= row.diffCi95High);
      } else {
        assert.equal(row.adapterId, "");
        assert.equal(row.executor, "");
      }
    }

    // The adapters were trained by the CPU agent on the recorded pools, whose hashes travel with them.
    const trainer = createServiceClient(TrainerService, url("trainer"));
    for (const row of rows.filter((r) => r.finetuneSize > 0)) {
      const { adapter } = await trainer.getAdapter({ adapterId: row.adapterId });
      assert.equal(adapter!.spec!.trainingData!.pool, `finetune-${row.finetuneSize}`);
      // Published to the Object Store: agents on other machines need no disk shared with the gateway.
      assert.match(adapter!.spec!.trainingData!.manifestUri, /^nats-obj:\/\/ragtune-manifests\/e2e-grid\./);
      assert.match(adapter!.trainingDataSha256, /^[0-9a-f]{64}$/);
    }
  });

  it("resumes a cancelled run without redoing finished cells", async () => {
    const gateway = createServiceClient(ExperimentService, url("gateway"));
    await gateway.createExperiment({ experimentId: "e2e-resume", spec: spec([0, 30]) });
    await gateway.startExperiment({ experimentId: "e2e-resume" });
    for await (const { experiment } of gateway.watchExperiment({ experimentId: "e2e-resume" })) {
      if (experiment!.cellsDone >= 1 || experiment!.state !== ExperimentState.RUNNING) break;
    }
    const { experiment: cancelled } = await gateway.cancelExperiment({ experimentId: "e2e-resume" });
    assert.equal(cancelled!.state, ExperimentState.CANCELLED);
    const doneBefore = cancelled!.cellsDone;
    const rowsBefore = (await gateway.getResults({ experimentId: "e2e-resume" })).rows;

    await gateway.startExperiment({ experimentId: "e2e-resume" });
    let final: Experiment | undefined;
    for await (const update of gateway.watchExperiment({ experimentId: "e2e-resume" })) {
      assert.ok(update.experiment!.cellsDone >= doneBefore, "finished cells are never counted again");
      final = update.experiment!;
    }
    assert.equal(final!.state, ExperimentState.SUCCEEDED, final!.error);
    assert.equal(final!.cellsDone, 2);
    const rowsAfter = (await gateway.getResults({ experimentId: "e2e-resume" })).rows;
    // Cells finished before the cancel keep their exact results.
    for (const before of rowsBefore) {
      const same = rowsAfter.find((r) => r.finetuneSize === before.finetuneSize && r.criterion === before.criterion)!;
      assert.deepEqual(same.score, before.score);
    }
  });

  it("rejects a bad spec naming the field", async () => {
    const gateway = createServiceClient(ExperimentService, url("gateway"));
    await assert.rejects(
      gateway.createExperiment({ spec: { ...spec([0]), datasets: [{ format: "squad", paths: ["x"] }] } }),
      /spec\.datasets\[0\]\.format/,
    );
  });

  it("traces the whole run as one trace across every service", async () => {
    assert.ok(gridTraceId, "the grid test ran first");
    // Stopping the processes flushes their span batches to the receiver.
    await stack!.stop();
    stack = undefined;
    const inTrace = receiver.spans.filter((span) => span.traceId === gridTraceId);
    const root = inTrace.find((span) => span.name === "ragtune.gateway.experiment.run");
    assert.ok(root, "the gateway's run span is in the trace");
    assert.equal(root.parentSpanId, "", "the run span is the root");
    const services = new Set(inTrace.map((span) => span.service));
    for (const service of [
      "ragtune-gateway",
      "ragtune-retriever",
      "ragtune-trainer",
      "ragtune-generator",
      "ragtune-judge",
      "ragtune-agent",
    ]) {
      assert.ok(services.has(service), `${service} has spans in the run's trace (got ${[...services].join(", ")})`);
    }
    // The fine-tune crosses the job queue: the agent's run of each job is a child of the trainer's SubmitJob span.
    const jobRuns = inTrace.filter((span) => span.name === "ragtune.agent.job.run");
    assert.equal(jobRuns.length, 2, "one agent span per fine-tuned cell");
    const byId = new Map(inTrace.map((span) => [span.spanId, span]));
    for (const run of jobRuns) {
      const parent = byId.get(run.parentSpanId);
      assert.equal(parent?.service, "ragtune-trainer");
      assert.match(parent?.name ?? "", /SubmitJob/);
    }
    for (const span of inTrace.filter((s) => s !== root)) {
      assert.ok(byId.has(span.parentSpanId), `${span.service} ${span.name}: its parent is in the same trace`);
    }
  });
});
