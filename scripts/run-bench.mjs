#!/usr/bin/env node
// Runs every *.bench.ts under the given folders, one after another, through tsx, on the TypeScript sources
// (see development-env.mjs).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { developmentEnv } from "./development-env.mjs";

const dir = process.argv[2] ?? "bench";
if (!existsSync(dir)) {
  console.log(`no ${dir}/ folder: nothing to benchmark`);
  process.exit(0);
}
const files = readdirSync(dir)
  .filter((name) => name.endsWith(".bench.ts"))
  .sort();
let failed = 0;
for (const file of files) {
  console.log(`\n### ${join(process.cwd(), dir, file)}`);
  const result = spawnSync(process.execPath, ["--import", "tsx", join(dir, file)], {
    stdio: "inherit",
    env: developmentEnv(),
  });
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
