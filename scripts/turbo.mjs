#!/usr/bin/env node
// Runs turbo with its telemetry off, so the project's own commands print no third-party notice
// (turbo announces its telemetry on the first run in every fresh HOME). Works the same on every shell.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const turbo = createRequire(import.meta.url).resolve("turbo/bin/turbo");
const result = spawnSync(process.execPath, [turbo, ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1" },
});
process.exit(result.status ?? 1);
