/**
 * The `ragtune` CLI against a running suite, as a person uses it: the command run as its own process, talking
 * gRPC to a real gateway (every service, a CPU node agent and NATS started by the stack helper) over a socket.
 * Spec files and the BioASQ-format data are written by the test.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ExperimentService } from "@ragtune/contracts/gateway";
import { repoRoot } from "@ragtune/gateway";
import { createServiceClient } from "@ragtune/runtime";
import { startTestStack, type TestStack } from "./support/stack.js";
import { writeSyntheticBioAsq } from "./support/synthetic-bioasq.js";

// The CLI from source, as tests run everything (the "development" condition resolves workspace packages to src/).
const cliEntry = join(repoRoot, "gateway/src/cli/main.ts");

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function startCli(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, ["--conditions=development", "--import", "tsx", cliEntry, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => {
    stdout += d;
  });
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<CliRun>((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Starts `ragtune run SPEC --id ID` and resolves once it follows the run (its first stage line is out). */
async function startFollowedRun(spec: string, id: string, env: NodeJS.ProcessEnv) {
  const run = startCli(["run", spec, "--id", id, "--every", "1"], env);
  let out = "";
  run.child.stdout!.on("data", (d) => {
    out += d;
  });
  await waitFor("the run to be followed", () => /prepare bioasq/.test(out));
  return run;
}

describe("ragtune CLI against a running suite", () => {
  let stack: TestStack | undefined;
  let specDir: string;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => startCli(args, env).done;

  before(async () => {
    stack = await startTestStack();
    specDir = join(stack.dataDir, "specs");
    mkdirSync(join(specDir, "data/bioasq"), { recursive: true });
    writeSyntheticBioAsq(join(specDir, "data/bioasq"), 120);
    // Big enough that a person (the test) can detach, look and cancel before the run ends.
    mkdirSync(join(specDir, "big/bioasq"), { recursive: true });
    writeSyntheticBioAsq(join(specDir, "big/bioasq"), 700);
    const spec = (sizes: number[], evalSize: number, data = "data") =>
      [
        "name: cli test",
        "datasets:",
        "  - format: bioasq",
        `    paths: [${data}/bioasq]   # relative to this file`,
        "base_models:",
        "  - {base_model: extractive-reader, backend: extractive}",
        `finetune_sizes: [${sizes.join(", ")}]`,
        `eval_size: ${evalSize}`,
        "judge: {mode: SCORING_MODE_REFERENCE, repeats: 1}",
        "seed: 5",
        "",
      ].join("\n");
    writeFileSync(join(specDir, "small.yaml"), spec([0, 30], 20));
    writeFileSync(join(specDir, "long.yaml"), spec([0, 100, 200, 300], 300, "big"));
    writeFileSync(
      join(specDir, "bad.yaml"),
      "name: bad\ndatasets:\n  - format: bioasq\n    paths: [data/nowhere]\nbase_models: [{base_model: x}]\n" +
        "finetune_sizes: [0, 500]\ntop_k: five\nlabels: {a: b}\n",
    );
    env = {
      GATEWAY_URL: stack.processes.find((p) => p.service.name === "gateway")!.url,
      RAGTUNE_DATA_DIR: join(stack.dataDir, "cli-state"),
      NO_COLOR: "1",
    };
  });
  after(async () => {
    await stack?.stop();
  });

  it("run SPEC with a bad file lists every problem, exits 2 and creates nothing", async () => {
    const res = await cli("run", join(specDir, "bad.yaml"), "--id", "cli-bad");
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /bad\.yaml:4: datasets\[0\]\.paths\[0\]: no such file or folder: .*data\/nowhere/);
    assert.match(res.stderr, /bad\.yaml:7: top_k: must be a whole number \(uint32\), got "five"/);
    assert.match(res.stderr, /bad\.yaml:8: labels: unknown field of ExperimentSpec/);
    assert.match(res.stderr, /3 problems in .*bad\.yaml\nnothing was started\./);
    const status = await cli("status", "cli-bad");
    assert.match(status.stderr, /NOT_FOUND/);
  });

  it("the gateway itself (a client without the CLI) gets every problem, the first field's path first", async () => {
    const gateway = createServiceClient(ExperimentService, env.GATEWAY_URL!);
    const bad = { name: "x", datasets: [{ format: "squad", paths: ["a", "b"] }], baseModels: [], topK: 5000 };
    await assert.rejects(gateway.createExperiment({ experimentId: "cli-grpc-bad", spec: bad }), {
      message:
        '[invalid_argument] spec.datasets[0].format: must be one of bioasq, nq, nq-open, qasper, got "squad" (and ' +
        "spec.datasets[0].paths[1]: one file or folder per dataset (a folder holds several files); " +
        "spec.base_models: must name at least one model; spec.top_k: must be in 0..1000, got 5000)",
    });
  });

  it("run SPEC submits, follows with plain progress lines off a terminal, prints the table and writes the report", async () => {
    const res = await cli("run", join(specDir, "small.yaml"), "--id", "cli-small", "--every", "1");
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /experiment cli-small: 2 cells on the gateway at http:\/\/127\.0\.0\.1:\d+/);
    // Plain lines (no carriage returns off a terminal): the stage with cells done/total, then per stage of the
    // run its items done/total, rate and ETA; the last lines hold the counts the run ended with.
    assert.doesNotMatch(res.stdout, /\r/);
    for (const stage of ["prepare bioasq", "generate and judge bioasq", "fine-tune bioasq"]) {
      assert.match(res.stdout, new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${stage}.*  \\d/2 cells  \\(stage `, "m"));
    }
    for (const stage of ["retrieve", "train", "generate", "judge"]) {
      assert.match(
        res.stdout,
        new RegExp(`^\\d\\d:\\d\\d:\\d\\d   ${stage} \\d+/\\d+  \\S+/(s|min)  (ETA \\S+|done)$`, "m"),
      );
    }
    const last = (stage: string) =>
      [...res.stdout.matchAll(new RegExp(`^\\S+   ${stage} (\\d+/\\d+) `, "gm"))].at(-1)?.[1];
    assert.equal(last("train"), "1/1", "one fine-tune");
    assert.equal(last("generate"), "40/40", "2 cells × 20 questions answered");
    assert.equal(last("judge"), "40/40", "and judged");
    assert.match(res.stdout, /^SUCCEEDED: 2\/2 cells, trace [0-9a-f]{32}$/m);
    assert.match(res.stdout, /^bioasq\s+base\s+0\s+0\s+accuracy\s+20\s/m);
    const report = /^report: (\S+report\.html)$/m.exec(res.stdout)?.[1];
    assert.ok(report && existsSync(report), res.stdout);
  });

  it("list, status, results in every format and report show the finished run", async () => {
    const list = await cli("list");
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^cli-small\s+SUCCEEDED\s+2\/2\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+cli test$/m);
    assert.doesNotMatch(list.stdout, /cli-bad/);

    const status = await cli("status", "cli-small");
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^experiment cli-small: SUCCEEDED, 2\/2 cells done$/m);

    const csv = await cli("results", "cli-small", "--format", "csv");
    const lines = csv.stdout.trim().split("\n");
    assert.match(lines[0], /^dataset,base_model,/);
    assert.equal(lines.length, 1 + 4, "2 cells × 2 criteria");
    const json = JSON.parse((await cli("results", "cli-small", "--format", "json")).stdout);
    assert.equal(json.experimentId, "cli-small");
    assert.equal(json.rows.length, 4);
    assert.equal(json.rows[0].score.n, 20);
    const table = await cli("results", "cli-small");
    assert.match(table.stdout, /^bioasq\s+reader\s+30\s+30\s+completeness\s+20\s+\d\.\d\d \[/m);
    const latex = await cli("results", "cli-small", "--format", "latex");
    assert.equal(latex.code, 0, latex.stderr);
    assert.match(latex.stdout, /\\begin\{tabular\}[\s\S]*\\toprule[\s\S]*bioasq/);
    const badFormat = await cli("results", "cli-small", "--format", "xml");
    assert.equal(badFormat.code, 2);

    const out = join(stack!.dataDir, "cli-report");
    const report = await cli("report", "cli-small", "--out", out);
    assert.equal(report.code, 0, report.stderr);
    assert.equal(report.stdout.split("\n")[0], `report: ${join(out, "report.html")}`);
    assert.match(readFileSync(join(out, "report.html"), "utf8"), /<html/i);
    assert.match(report.stdout, /answers\.jsonl/);
    const answers = readFileSync(join(out, "answers.jsonl"), "utf8").trim().split("\n");
    assert.equal(answers.length, 2 * 20, "every answer of both cells");
  });

  it("an unknown id is one NOT_FOUND line; a gateway that is not running names the address and `npm start`", async () => {
    for (const verb of ["status", "watch", "results", "report", "cancel", "resume"]) {
      const res = await cli(verb, "no-such-run");
      assert.equal(res.code, 1, verb);
      assert.equal(res.stderr, `ragtune ${verb}: NOT_FOUND: experiment "no-such-run" not found\n`);
    }
    const port = await closedPort();
    const down = await startCli(["list"], { ...env, GATEWAY_URL: `http://127.0.0.1:${port}` }).done;
    assert.equal(down.code, 1);
    assert.equal(down.stderr.trim().split("\n").length, 1, down.stderr);
    assert.match(down.stderr, new RegExp(`no gateway answers at http://127\\.0\\.0\\.1:${port} \\(GATEWAY_URL\\)`));
    assert.match(down.stderr, /Start a suite with `npm start`/);
  });

  it("Ctrl-C detaches without cancelling; watch re-attaches; cancel keeps cells; resume finishes the run", async () => {
    const run = await startFollowedRun(join(specDir, "long.yaml"), "cli-long", env);
    run.child.kill("SIGINT");
    const detached = await run.done;
    assert.equal(detached.code, 130, detached.stderr);
    assert.match(detached.stderr, /detached from experiment cli-long; it goes on running on the gateway at http/);
    assert.match(detached.stderr, /re-attach: ragtune watch cli-long/);

    const status = await cli("status", "cli-long");
    assert.match(status.stdout, /^experiment cli-long: RUNNING, \d\/4 cells done$/m, "detaching did not cancel it");

    const cancel = await cli("cancel", "cli-long");
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(
      cancel.stdout,
      /^experiment cli-long: CANCELLED, \d\/4 cells done and kept; `ragtune resume cli-long`/m,
    );

    const resumed = await cli("resume", "cli-long", "--every", "1");
    assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
    assert.match(resumed.stdout, /^SUCCEEDED: 4\/4 cells/m);

    const watch = await cli("watch", "cli-long");
    assert.equal(watch.code, 0, watch.stderr);
    assert.match(watch.stdout, /^SUCCEEDED: 4\/4 cells/m, "watching a finished run shows its end");
  });

  it("a gateway lost while following is reported in words with the command that resumes", async () => {
    const watcher = await startFollowedRun(join(specDir, "long.yaml"), "cli-lost", env);
    stack!.processes.find((p) => p.service.name === "gateway")!.child.kill("SIGKILL");
    const lost = await watcher.done;
    assert.equal(lost.code, 1, lost.stderr);
    assert.match(lost.stderr, /lost the gateway at http:\/\/127\.0\.0\.1:\d+ while following experiment cli-lost \(/);
    assert.match(lost.stderr, /`ragtune resume cli-lost` continues the run where it stopped/);
  });
});
