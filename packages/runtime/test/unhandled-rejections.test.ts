import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";

/** A process that leaves one rejection unhandled, then says whether it lived on. */
const program = (guarded: boolean) => `
  import { createLogger, logUnhandledRejections } from "@ragtune/runtime";
  ${guarded ? 'logUnhandledRejections(createLogger("agent"));' : ""}
  Promise.reject(new Error("forgotten promise"));
  setTimeout(() => console.log("still running"), 200);
`;

const run = (guarded: boolean) =>
  spawnSync(
    process.execPath,
    ["--conditions=development", "--import", import.meta.resolve("tsx"), "--input-type=module", "-e", program(guarded)],
    { encoding: "utf8", cwd: import.meta.dirname, timeout: 60_000 },
  );

describe("logUnhandledRejections", () => {
  it("keeps the process running and logs what was rejected", () => {
    const child = run(true);
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /still running/);
    assert.match(child.stdout + child.stderr, /unhandled rejection.*forgotten promise/);
  });

  it("without it, Node ends the process (what the agent and gateway did)", () => {
    const child = run(false);
    assert.notEqual(child.status, 0);
    assert.doesNotMatch(child.stdout, /still running/);
  });
});
