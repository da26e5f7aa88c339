/**
 * Issue 13 item 11 as numbers: the fault suite's experiment undisturbed, then with a seeded schedule of 14
 * SIGKILLs (NATS and each service at least twice over). Prints
 * `BENCH faults kills=<n> repeated_llm_calls=<k> lost_cells=<c> results_identical=<bool>`, or the failure.
 */
import { isDeepStrictEqual } from "node:util";
import {
  comparableRows,
  explainRepeats,
  manifestsPerDataset,
  repeatedByModel,
  repeatedRequests,
  runFaultExperiment,
} from "../faults/fault-run.js";

const seed = Number(process.env.FAULTS_SEED ?? 29);
const kills = Number(process.env.FAULTS_KILLS ?? 14);
// 40 questions per cell at 1 s a completion: a run long enough for every kill of the schedule to land while it runs.
const run = { seed, evalSize: 40, llmLatencyMs: 1000 };
const clean = await runFaultExperiment({ ...run, kills: 0, deadlineMs: 300_000 });
try {
  const faulted = await runFaultExperiment({ ...run, kills, deadlineMs: 540_000 });
  const lost = faulted.experiment.cellsTotal - faulted.experiment.cellsDone;
  const identical =
    isDeepStrictEqual(comparableRows(faulted.rows), comparableRows(clean.rows)) &&
    Object.values(manifestsPerDataset(faulted.rows)).every((n) => n === 1);
  const repeated = repeatedRequests(faulted.llmRequests, clean.llmRequests);
  const explained = explainRepeats(faulted, clean, run.llmLatencyMs).filter((r) => r.killed).length;
  console.log(`  killed: ${faulted.kills.map((k) => `${k.target}@${k.atMs}ms`).join(", ")}`);
  console.log(
    `  repeated by model: ${JSON.stringify(repeatedByModel(faulted.llmRequests, clean.llmRequests))}; requests whose caller was killed before the answer: ${faulted.abandonedLlmRequests}`,
  );
  console.log(
    `BENCH faults kills=${faulted.kills.length} repeated_llm_calls=${repeated} lost_cells=${lost} results_identical=${identical} repeats_lost_in_kill_window=${explained}`,
  );
  if (lost || !identical || repeated) process.exitCode = 1;
} catch (error) {
  // The run itself failed under faults: say so as a BENCH line too, then the reason.
  console.log(`BENCH faults kills=${kills} finished=false`);
  console.log((error as Error).message.slice(0, 4000));
  process.exitCode = 1;
}
