/**
 * The known-effect check: seeded experiments on the planted stack, where a hosted fine-tune and a LoRA adapter
 * add a known accuracy lift (one of them the effect, the other none, swapped from run to run), read back from the
 * gateway's results (its paired difference, 95% interval and Holm-corrected p-value, as users get them). Coverage
 * is the share of tuned rows whose interval holds the planted difference; the false-positive rate the share of
 * rows with no planted effect that the corrected test rejects; power the share of rows with the effect it rejects
 * in the right direction.
 */
import { FineTuneMethod } from "@ragtune/contracts/common";
import { type PlantedStack, runPlantedExperiment } from "./planted-stack.js";

export const ALPHA = 0.05;

/** Questions in the planted dataset: a pool of 30 and 100 evaluation questions, with room to spare. */
export const KNOWN_EFFECT_QUESTIONS = 140;
/** The design of every run: a 0.5-point effect on p = 0.4, 100 paired questions, 3 judge repeats. */
export const KNOWN_EFFECT_DESIGN = { effectPoints: 0.5, baseAccuracy: 0.4, evalSize: 100, poolSize: 30, repeats: 3 };

export interface KnownEffectOptions {
  runs: number;
  firstSeed: number;
  /** Planted difference of the fine-tune with an effect, score points. */
  effectPoints: number;
  baseAccuracy: number;
  evalSize: number;
  poolSize: number;
  repeats: number;
  onRun?: (line: string) => void;
}

export interface TunedRowOutcome {
  seed: number;
  method: string;
  criterion: string;
  planted: number;
  diff: number;
  low: number;
  high: number;
  pHolm: number;
  pairedN: number;
}

export interface KnownEffectSummary {
  coverage: number;
  falsePositiveRate: number;
  power: number;
  rows: TunedRowOutcome[];
}

export function summarizeKnownEffect(rows: TunedRowOutcome[]): KnownEffectSummary {
  const share = (list: TunedRowOutcome[], test: (row: TunedRowOutcome) => boolean) =>
    list.length ? list.filter(test).length / list.length : Number.NaN;
  const nulls = rows.filter((r) => r.planted === 0);
  const effects = rows.filter((r) => r.planted !== 0);
  return {
    coverage: share(rows, (r) => r.low <= r.planted && r.planted <= r.high),
    falsePositiveRate: share(nulls, (r) => r.pHolm < ALPHA),
    power: share(effects, (r) => r.pHolm < ALPHA && Math.sign(r.diff) === Math.sign(r.planted)),
    rows,
  };
}

export async function runKnownEffect(planted: PlantedStack, options: KnownEffectOptions): Promise<KnownEffectSummary> {
  const lift = options.effectPoints / planted.planted.pointsFor(1);
  const outcomes: TunedRowOutcome[] = [];
  for (let i = 0; i < options.runs; i++) {
    const seed = options.firstSeed + i;
    const hostedHasEffect = i % 2 === 0;
    const { rows } = await runPlantedExperiment(planted, {
      experimentId: `known-effect-${seed}`,
      run: {
        seed,
        baseAccuracy: options.baseAccuracy,
        lift: { hosted: hostedHasEffect ? lift : 0, lora: hostedHasEffect ? 0 : lift },
      },
      poolSize: options.poolSize,
      evalSize: options.evalSize,
      repeats: options.repeats,
    });
    for (const row of rows.filter((r) => r.finetuneSize > 0)) {
      const hosted = row.method === FineTuneMethod.HOSTED;
      const outcome: TunedRowOutcome = {
        seed,
        method: hosted ? "hosted" : "lora",
        criterion: row.criterion,
        planted: hosted === hostedHasEffect ? options.effectPoints : 0,
        diff: row.diffVsBase,
        low: row.diffCi95Low,
        high: row.diffCi95High,
        pHolm: row.diffPHolm,
        pairedN: row.pairedN,
      };
      outcomes.push(outcome);
      options.onRun?.(
        `seed=${seed} ${outcome.method.padEnd(6)} ${outcome.criterion.padEnd(12)} planted=${outcome.planted.toFixed(2)} ` +
          `diff=${outcome.diff.toFixed(3)} ci95=[${outcome.low.toFixed(3)}, ${outcome.high.toFixed(3)}] ` +
          `p_holm=${outcome.pHolm.toFixed(4)} n=${outcome.pairedN}`,
      );
    }
  }
  return summarizeKnownEffect(outcomes);
}

export function benchLine(summary: KnownEffectSummary): string {
  const f = (x: number) => x.toFixed(3);
  return `BENCH science coverage=${f(summary.coverage)} false_positive_rate=${f(summary.falsePositiveRate)} power=${f(summary.power)}`;
}
