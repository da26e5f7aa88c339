/**
 * Issue 13 item 12 as a number: every hostile row once against a fresh stack (8 at a time), then the liveness
 * and state checks. Prints `BENCH hostile cases=<n> passed=<m>` (todo rows count as tried; passed counts the rows
 * that got their exact answer) and names each row that did not.
 */
import { isDeepStrictEqual } from "node:util";
import { deadOrUnhealthy, snapshotState, startHostileStack } from "../hostile/hostile-stack.js";
import { allHostileCases, caseContext, caseName, checkCase } from "../hostile/run-cases.js";

const cases = allHostileCases();
const hostile = await startHostileStack();
try {
  const before = await snapshotState(hostile.clients);
  const ctx = caseContext(hostile);
  const started = performance.now();
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++];
      const problem = await checkCase(c, ctx).catch((error: Error) => `threw: ${error.message}`);
      if (problem) problems.push(`${caseName(c)}${c.todo ? " [todo]" : ""}: ${problem}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const seconds = (performance.now() - started) / 1000;
  const dead = await deadOrUnhealthy(hostile.services);
  const intact = isDeepStrictEqual(await snapshotState(hostile.clients), before);
  for (const p of problems) console.log(`  not exact: ${p.slice(0, 300)}`);
  console.log(`BENCH hostile cases=${cases.length} passed=${cases.length - problems.length}`);
  console.log(`BENCH hostile seconds=${seconds.toFixed(1)}`);
  console.log(`BENCH hostile processes_down=${dead.length} state_intact=${intact}`);
  if (dead.length) console.log(dead.join("\n"));
  if (dead.length || !intact) process.exitCode = 1;
} finally {
  await hostile.stop();
}
