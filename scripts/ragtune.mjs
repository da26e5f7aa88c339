#!/usr/bin/env node
// The `ragtune` command: runs the TypeScript CLI through tsx.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const child = spawn(
  process.execPath,
  // tsx by its resolved URL: a bare `--import tsx` is looked up from the working directory, not from here.
  ["--import", import.meta.resolve("tsx"), join(root, "gateway/src/cli/main.ts"), ...process.argv.slice(2)],
  {
    stdio: "inherit",
  },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
