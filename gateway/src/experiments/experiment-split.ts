/**
 * How an experiment splits one dataset, in one place: the runner splits with it, and spec validation runs the
 * same split to find a pool the dataset cannot fill before any work starts.
 */
import type { DatasetSpec, ExperimentSpec } from "@ragtune/contracts/gateway";
import { type DatasetName, type DatasetSplit, type LoadedDataset, isAnswerable, splitDataset } from "@ragtune/datasets";

/** `spec` with its defaults filled in (withDefaults). */
export function splitForExperiment(loaded: LoadedDataset, spec: ExperimentSpec, dataset: DatasetSpec): DatasetSplit {
  // Questions whose gold evidence is not in the corpus cannot be answered from retrieval; unless the spec keeps
  // them, they are left out of every pool (the manifest records how many).
  const answerableIn = dataset.includeUnanswerable ? undefined : new Set(loaded.documents.map((d) => d.id));
  const n = answerableIn ? loaded.items.filter((item) => isAnswerable(item, answerableIn)).length : loaded.items.length;
  const maxPool = Math.max(0, ...spec.finetuneSizes);
  // eval_size 0: every question not needed by the largest pool (at least a fifth of them).
  const evalSize = spec.evalSize || Math.max(Math.ceil(n / 5), n - maxPool);
  return splitDataset(loaded.items, {
    dataset: dataset.format as DatasetName,
    seed: Number(spec.seed),
    poolSizes: spec.finetuneSizes.filter((s) => s > 0),
    evalSize: Math.min(evalSize, n),
    answerableIn,
  });
}
