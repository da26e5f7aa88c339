/**
 * examples/python-judge, a judge written in Python from proto/ alone (Debian's python3-grpcio, stubs compiled
 * here), passes the judge conformance kit for what it implements, scores as the TypeScript reference scorer
 * does, and serves a whole experiment in place of the TypeScript judge (JUDGE_URL), joining the run's trace.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { CONTRACTS, formatResult, runConformance } from "@ragtune/conformance";
import { type Experiment, ExperimentService, ExperimentState } from "@ragtune/contracts/gateway";
import { JudgeService, ScoringMode } from "@ragtune/contracts/judge";
import { repoRoot, stackServices } from "@ragtune/gateway";
import { createServiceClient, type LocalNats, startTestNats } from "@ragtune/runtime";
import { type RunningServices, startServices } from "../conformance/services.js";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp-receiver.js";
import { readerExperimentSpec } from "../support/reader-experiment.js";
import { writeSyntheticBioAsq } from "../support/synthetic-bioasq.js";

const python = "/usr/bin/python3";
const hasGrpcTools = spawnSync(python, ["-c", "import grpc_tools"]).status === 0;
const missing = [
  spawnSync(python, ["-c", "import grpc"]).status !== 0 && "python3-grpcio",
  !hasGrpcTools && spawnSync("protoc", ["--version"]).status !== 0 && "protoc (protobuf-compiler)",
  !hasGrpcTools && spawnSync("which", ["grpc_python_plugin"]).status !== 0 && "grpc_python_plugin",
].filter(Boolean);
const skip = missing.length
  ? `needs ${missing.join(", ")}: apt-get install python3-grpcio protobuf-compiler protobuf-compiler-grpc`
  : false;

interface PythonJudge {
  url: string;
  child: ChildProcess;
  /** Its stderr, one JSON object per line (one per RPC, with the trace id). */
  logs: Array<Record<string, unknown>>;
}

function startPythonJudge(stubDir: string, env: NodeJS.ProcessEnv): Promise<PythonJudge> {
  const child = spawn(
    python,
    [join(repoRoot, "examples/python-judge/judge_server.py"), "--addr", "127.0.0.1:0", "--stubs", stubDir],
    { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const logs: PythonJudge["logs"] = [];
  const raw: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => {
    raw.push(line);
    try {
      logs.push(JSON.parse(line));
    } catch {
      // a Python traceback: kept in `raw` for the failure message
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`python judge did not start:\n${raw.join("\n")}`)), 60_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const event = JSON.parse(line) as { event?: string; url?: string };
      if (event.event === "listening" && event.url) {
        clearTimeout(timer);
        resolve({ url: event.url, child, logs });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`python judge exited with ${code}:\n${raw.join("\n")}`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

describe("a judge written in Python", { skip }, () => {
  let nats: LocalNats;
  let receiver: OtlpReceiver;
  let stack: RunningServices | undefined;
  let tsJudge: RunningServices | undefined;
  let pyJudge: PythonJudge;
  let workDir: string;

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), "ragtune-python-judge-"));
    nats = await startTestNats();
    receiver = await startOtlpReceiver();
    const otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "200",
    };
    pyJudge = await startPythonJudge(join(workDir, "stubs"), otel);
    // The TypeScript judge, on its own, only to compare scores with.
    tsJudge = await startServices(["judge"], { nats, env: otel });
    // Every other service, the gateway pointed at the Python judge.
    const others = stackServices.map((s) => s.name).filter((name) => name !== "judge");
    // The gateway reads experiment datasets only under its data roots: this test's folder is one.
    stack = await startServices(others, {
      nats,
      env: { ...otel, JUDGE_URL: pyJudge.url, GATEWAY_DATA_ROOTS: workDir },
    });
  });
  after(async () => {
    await stack?.stop();
    await tsJudge?.stop();
    if (pyJudge) await stopChild(pyJudge.child);
    await nats?.stop();
    await receiver?.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  it("passes the judge conformance kit for what it implements", async () => {
    const report = await runConformance(CONTRACTS.judge, pyJudge.url);
    assert.equal(report.status, "checked");
    if (report.status !== "checked") return;
    const lines = report.results.map(formatResult).join("\n");
    assert.deepEqual(report.results.filter((r) => r.outcome === "fail").map(formatResult), [], lines);
    // What it does not implement is declared, not failed: the model modes (FAILED_PRECONDITION) and the NATS
    // events (no NATS URL given: it publishes none).
    const skipped = report.results.filter((r) => r.outcome === "skip");
    assert.deepEqual(
      skipped.map((r) => r.name.split(":")[0]),
      ["Score (SINGLE, default model)", "events"],
      lines,
    );
    assert.match(skipped[0].reason, /^FAILED_PRECONDITION: judge\.mode: .*SCORING_MODE_REFERENCE only/);
    assert.ok(report.results.filter((r) => r.outcome === "pass").length >= 30, lines);
  });

  it("scores as the TypeScript reference scorer does", async () => {
    const tsUrl = tsJudge!.url("judge");
    const items = [
      ["Alvestin inhibits the kinase PX7.", ["the kinase PX7"], []],
      ["PX7", ["receptor QL2", "PX7"], []],
      ["It is.", ["It is"], []],
      ["Bananas are yellow.", ["the kinase PX7"], ["Alvestin inhibits PX7 in mice."]],
      ["Café-au-lait spots; NF1 (neurofibromin)!", ["neurofibromin 1", "NF1"], []],
      ["The drug binds kinase kinase PX7 strongly in mice", [], ["Alvestin binds the PX7 kinase in murine cells."]],
      ["Über-große Moleküle, naïve T-Zellen", ["naive T Zellen"], ["große Moleküle"]],
    ] as const;
    const request = {
      items: items.map(([answer, referenceAnswers, referenceEvidence], i) => ({
        itemId: `item-${i}`,
        question: "What does it do?",
        answer,
        referenceAnswers: [...referenceAnswers],
        referenceEvidence: [...referenceEvidence],
      })),
      judge: { mode: ScoringMode.REFERENCE, repeats: 1 },
    };
    const [ts, py] = await Promise.all(
      [tsUrl, pyJudge.url].map((url) => createServiceClient(JudgeService, url).scoreBatch(request)),
    );
    for (const [i, tsResult] of ts.results.entries()) {
      for (const [c, tsScore] of tsResult.scores.entries()) {
        const pyScore = py.results[i].scores[c];
        assert.equal(pyScore.criterion, tsScore.criterion);
        assert.ok(
          Math.abs(pyScore.spread!.mean - tsScore.spread!.mean) < 1e-9,
          `${items[i][0]} / ${tsScore.criterion}: Python ${pyScore.spread!.mean}, TypeScript ${tsScore.spread!.mean}`,
        );
      }
    }
  });

  it("runs an experiment in place of the TypeScript judge, inside the run's trace", async () => {
    const logsBefore = pyJudge.logs.length; // the earlier tests' calls are in other traces
    const dataDir = join(workDir, "bioasq");
    mkdirSync(dataDir, { recursive: true });
    writeSyntheticBioAsq(dataDir, 60);
    const gatewayUrl = stack!.url("gateway");
    const gateway = createServiceClient(ExperimentService, gatewayUrl);
    const spec = readerExperimentSpec({ name: "python-judge", dataDir, sizes: [0], seed: 5n });
    await gateway.createExperiment({ experimentId: "python-judge", spec });
    await gateway.startExperiment({ experimentId: "python-judge" });
    let final: Experiment | undefined;
    for await (const update of gateway.watchExperiment({ experimentId: "python-judge" })) final = update.experiment!;
    assert.equal(final!.state, ExperimentState.SUCCEEDED, final!.error);

    const { rows } = await gateway.getResults({ experimentId: "python-judge" });
    assert.equal(rows.length, 2, "1 cell × 2 criteria");
    for (const row of rows) {
      assert.equal(row.score!.n, 20, `${row.criterion}: every evaluation question scored`);
      assert.ok(row.score!.mean >= 1 && row.score!.mean <= 5, `${row.criterion} mean ${row.score!.mean}`);
      assert.equal(row.judgeModel, "reference-scorer");
    }

    // The Python judge served the run's ScoreBatch calls, in the run's trace (traceparent from gRPC metadata).
    const traceId = final!.traceId;
    assert.match(traceId, /^[0-9a-f]{32}$/);
    const batches = pyJudge.logs
      .slice(logsBefore)
      .filter((l) => l.msg === "rpc" && l.method === "ScoreBatch" && l.status === "OK");
    assert.ok(batches.length >= 1, "the Python judge logged the run's ScoreBatch calls");
    for (const b of batches) assert.equal(b.trace_id, traceId, "each ScoreBatch call carries the run's trace id");

    // Its spans reach the collector as children of the gateway's calls, under the run's root span.
    await stack!.stop();
    stack = undefined;
    const inTrace = receiver.spans.filter((s) => s.traceId === traceId);
    const root = inTrace.find((s) => s.name === "ragtune.gateway.experiment.run");
    assert.ok(root, "the gateway's run span is in the trace");
    const pySpans = inTrace.filter((s) => s.service === "python-judge");
    assert.equal(pySpans.length, batches.length, "one Python span per ScoreBatch call");
    const byId = new Map(inTrace.map((s) => [s.spanId, s]));
    for (const span of pySpans) {
      assert.equal(span.name, "ragtune.judge.v1.JudgeService/ScoreBatch");
      const parent = byId.get(span.parentSpanId);
      assert.ok(parent, "the Python span's parent is in the trace");
      assert.equal(parent.service, "ragtune-gateway", "its parent is the gateway's client call");
    }
  });
});
