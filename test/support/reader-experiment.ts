/** The spec the end-to-end tests run: the extractive reader on a BioASQ folder, scored by the reference scorer. */
import { ScoringMode } from "@ragtune/contracts/judge";

export function readerExperimentSpec(options: { name: string; dataDir: string; sizes: number[]; seed: bigint }) {
  return {
    name: options.name,
    datasets: [{ format: "bioasq", paths: [options.dataDir] }],
    baseModels: [{ baseModel: "extractive-reader", backend: "extractive" }],
    finetuneSizes: options.sizes,
    evalSize: 20,
    seed: options.seed,
    judge: { mode: ScoringMode.REFERENCE, repeats: 3 },
  };
}
