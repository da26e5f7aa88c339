/**
 * The long known-effect check: many seeded experiments across the real processes, each with a planted difference
 * of 0.5 points for one fine-tune and none for the other (see ../support/known-effect.ts). Prints each tuned row,
 * then `BENCH science coverage=… false_positive_rate=… power=…`, where coverage should be near 0.95, the
 * false-positive rate at most 0.05 (Holm-corrected), and power high. KNOWN_EFFECT_RUNS sets the number of runs.
 */
import { benchLine, KNOWN_EFFECT_DESIGN, KNOWN_EFFECT_QUESTIONS, runKnownEffect } from "../support/known-effect.js";
import { startPlantedStack } from "../support/planted-stack.js";

const runs = Number(process.env.KNOWN_EFFECT_RUNS ?? 40);
const planted = await startPlantedStack({ questions: KNOWN_EFFECT_QUESTIONS });
try {
  const started = performance.now();
  const summary = await runKnownEffect(planted, {
    ...KNOWN_EFFECT_DESIGN,
    runs,
    firstSeed: 1000,
    onRun: (line) => console.log(line),
  });
  const nulls = summary.rows.filter((r) => r.planted === 0);
  const meanNullDiff = nulls.reduce((sum, r) => sum + r.diff, 0) / nulls.length;
  console.log(
    `${runs} runs, ${summary.rows.length} tuned rows in ${((performance.now() - started) / 1000).toFixed(0)} s; ` +
      `mean difference where none was planted ${meanNullDiff.toFixed(3)}`,
  );
  console.log(benchLine(summary));
} finally {
  await planted.stop();
}
