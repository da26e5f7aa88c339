#!/usr/bin/env node
// Runs node's test runner (through tsx) on every *.test.ts under the given folders.
// Node 20's --test does not expand globs or find .ts files by itself, so this lists them.
// Tests run the TypeScript sources, never the emitted dist/ (see development-env.mjs).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { developmentEnv } from "./development-env.mjs";

function findTests(dir) {
  if (!existsSync(dir)) return [];
  const found = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "gen") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith(".test.ts")) found.push(path);
  }
  return found;
}

const files = process.argv.slice(2).flatMap(findTests).sort();
if (files.length === 0) {
  console.log("no test files found");
  process.exit(0);
}
const concurrency = process.env.RAGTUNE_TEST_CONCURRENCY ?? "1";
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files],
  { stdio: "inherit", env: developmentEnv() },
);
process.exit(result.status ?? 1);
