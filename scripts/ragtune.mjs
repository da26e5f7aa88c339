#!/usr/bin/env node
// The `ragtune` command: runs the CLI as emitted by `npm run build` (gateway/dist). From source, during development:
// node --conditions=development --import tsx gateway/src/cli/main.ts
import { existsSync } from "node:fs";

const main = new URL("../gateway/dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("ragtune: gateway/dist/cli/main.js is missing; run `npm run build` in the repository first\n");
  process.exit(1);
}
await import(main.href);
