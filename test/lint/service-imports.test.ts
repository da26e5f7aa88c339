/**
 * scripts/check-service-imports.mjs, the `npm run lint` step that keeps services from importing each other, run as
 * lint runs it (a process, exit code and output) on fixture trees written here.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { repoRoot } from "@ragtune/gateway";

const script = join(repoRoot, "scripts/check-service-imports.mjs");
const roots: string[] = [];

after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A repository-shaped tree in a temporary folder: path → content. */
function fixture(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "service-imports-"));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

function check(root: string) {
  const result = spawnSync(process.execPath, [script, root], { encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** What every fixture has: code that is allowed (packages, contracts, own files, node built-ins). */
const allowed = {
  "packages/llm/src/index.ts": 'export const client = "llm";\n',
  "services/judge/src/server.ts": [
    'import { readFile } from "node:fs/promises";',
    'import { JudgeService } from "@ragtune/contracts/judge";',
    'import { createOpenAiClient } from "@ragtune/llm";',
    'import { judgeSettings } from "./config.js";',
    'export * from "../test/support/harness.js";',
    "",
  ].join("\n"),
  "services/judge/src/config.ts": "export const judgeSettings = {};\n",
  "services/judge/test/support/harness.ts": 'import { judgeSettings } from "../../src/config.js";\n',
  "services/generator/src/index.ts": 'export { createOpenAiClient } from "@ragtune/llm";\n',
  "gateway/src/index.ts": 'import { repoRoot } from "@ragtune/gateway";\nexport { repoRoot };\n',
};

describe("scripts/check-service-imports.mjs", () => {
  it("passes a tree where services import only packages, contracts and their own files", () => {
    const result = check(fixture(allowed));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /no service imports another/);
  });

  it("fails on a service importing another by package name, naming the file and line", () => {
    const result = check(
      fixture({
        ...allowed,
        "services/judge/src/backends/openai-backend.ts": [
          "// The judge's OpenAI backend.",
          'import { createServer } from "node:http";',
          'import { chatChoiceLogprobs } from "@ragtune/generator/llm";',
          "",
        ].join("\n"),
      }),
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^services\/judge\/src\/backends\/openai-backend\.ts:3: imports @ragtune\/generator\/llm \(the generator service\)$/m,
    );
    assert.match(result.stderr, /1 import\(s\) from one service into another/);
  });

  it("fails on relative paths out of a service into another service or the gateway, tests and dynamic imports included", () => {
    const result = check(
      fixture({
        ...allowed,
        "services/generator/test/adapter.test.ts": [
          'import assert from "node:assert/strict";',
          "import {",
          "  archiveDirectory,",
          '} from "../../trainer/src/agent/adapter-archive.js";',
          "",
        ].join("\n"),
        "services/retriever/bench/datasets.ts": [
          "export async function load() {",
          '  return import("../../../gateway/src/datasets/index.js");',
          "}",
          "",
        ].join("\n"),
        "gateway/src/cli/status.ts": 'export { retrieverSettings } from "../../../services/retriever/src/config.js";\n',
      }),
    );
    assert.equal(result.code, 1);
    const lines = result.stderr.split("\n").filter((line) => /^\S+:\d+: /.test(line));
    assert.deepEqual(lines.map((line) => line.split(": ")[0]).sort(), [
      "gateway/src/cli/status.ts:1",
      "services/generator/test/adapter.test.ts:4",
      "services/retriever/bench/datasets.ts:2",
    ]);
    assert.match(
      result.stderr,
      /services\/generator\/test\/adapter\.test\.ts:4: imports \.\.\/\.\.\/trainer\/src\/agent\/adapter-archive\.js, which leaves services\/generator\/ for services\/trainer\/src\/agent\/adapter-archive\.js/,
    );
  });

  it("passes on this repository", () => {
    const result = check(repoRoot);
    assert.equal(result.code, 0, result.stderr);
  });
});
