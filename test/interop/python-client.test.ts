/**
 * A Python client (Debian's python3-grpcio, stubs compiled from proto/ by protoc + grpc_python_plugin) calls
 * health, reflection and one RPC of every service, across processes, over real sockets.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot } from "@ragtune/gateway";
import { startTestStack, type TestStack } from "../support/stack.js";

const python = "/usr/bin/python3";
const missing = [
  !existsSync(python) && `${python}`,
  spawnSync(python, ["-c", "import grpc"]).status !== 0 && "python3-grpcio",
  spawnSync("protoc", ["--version"]).status !== 0 && "protoc (protobuf-compiler)",
  spawnSync("which", ["grpc_python_plugin"]).status !== 0 && "grpc_python_plugin (protobuf-compiler-grpc)",
].filter(Boolean);
const skip = missing.length
  ? `needs ${missing.join(", ")}: apt-get install python3-grpcio protobuf-compiler protobuf-compiler-grpc`
  : false;

function protoFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? protoFiles(path) : name.endsWith(".proto") ? [path] : [];
  });
}

describe("Python grpcio client", { skip }, () => {
  let stack: TestStack;
  let genDir: string;

  before(async () => {
    genDir = mkdtempSync(join(tmpdir(), "ragtune-pystubs-"));
    const plugin = execFileSync("which", ["grpc_python_plugin"]).toString().trim();
    execFileSync(
      "protoc",
      [
        "-I",
        join(repoRoot, "proto"),
        "-I",
        join(repoRoot, "third_party/proto"),
        `--python_out=${genDir}`,
        `--grpc_python_out=${genDir}`,
        `--plugin=protoc-gen-grpc_python=${plugin}`,
        ...protoFiles(join(repoRoot, "proto")),
        ...protoFiles(join(repoRoot, "third_party/proto")),
      ],
      { stdio: "inherit" },
    );
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
    rmSync(genDir, { recursive: true, force: true });
  });

  it("calls health, reflection and one RPC of every service, and gets INVALID_ARGUMENT naming the field", () => {
    const out = execFileSync(
      python,
      [join(repoRoot, "test/python/interop_client.py"), genDir, JSON.stringify(stack.targets)],
      {
        encoding: "utf8",
      },
    );
    const results = JSON.parse(out);
    const own: Record<string, string> = {
      retriever: "ragtune.retriever.v1.RetrieverService",
      trainer: "ragtune.trainer.v1.TrainerService",
      generator: "ragtune.generator.v1.GeneratorService",
      judge: "ragtune.judge.v1.JudgeService",
      gateway: "ragtune.gateway.v1.ExperimentService",
    };
    const badField: Record<string, string> = {
      retriever: "query",
      trainer: "job_id",
      generator: "question",
      judge: "judge",
      gateway: "experiment_id",
    };
    assert.deepEqual(Object.keys(results).sort(), Object.keys(own).sort());
    for (const [name, result] of Object.entries<any>(results)) {
      assert.equal(result.health, "SERVING", `${name} health`);
      assert.ok(result.services.includes(own[name]), `${name} lists ${own[name]}`);
      assert.ok(result.services.includes("grpc.health.v1.Health"), `${name} lists Health`);
      assert.equal(result.call.code, "OK", `${name} ${result.call.rpc}: ${result.call.details ?? ""}`);
      assert.equal(
        result.bad_request.code,
        "INVALID_ARGUMENT",
        `${name} bad request: ${JSON.stringify(result.bad_request)}`,
      );
      assert.ok(
        result.bad_request.details.startsWith(badField[name]),
        `${name} names the field: ${result.bad_request.details}`,
      );
    }
    assert.deepEqual(results.judge.call.criteria.slice(0, 2).sort(), ["accuracy", "completeness"]);
  });
});
