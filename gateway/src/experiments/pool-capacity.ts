/**
 * The spec checks that need the dataset files: each dataset is split exactly as the run will split it (answerable
 * questions, papers and near-duplicates kept whole), so a pool the dataset cannot fill is refused when the spec is
 * validated, not found in the middle of the run.
 */
import type { ExperimentSpec } from "@ragtune/contracts/gateway";
import { type DatasetName, loadDataset, poolName } from "@ragtune/datasets";
import type { SpecProblem } from "./experiment-spec.js";
import { splitForExperiment } from "./experiment-split.js";

/** Problems of a spec with its defaults filled in (withDefaults), in dataset order. */
export async function poolCapacityProblems(spec: ExperimentSpec): Promise<SpecProblem[]> {
  const problems: SpecProblem[] = [];
  for (const [i, dataset] of spec.datasets.entries()) {
    let loaded: Awaited<ReturnType<typeof loadDataset>>;
    try {
      loaded = await loadDataset(dataset.format as DatasetName, dataset.paths[0]);
    } catch (error) {
      const message = `cannot be read as ${dataset.format}: ${(error as Error).message}`;
      problems.push({ path: `datasets[${i}].paths[0]`, message });
      continue;
    }
    const split = splitForExperiment(loaded, spec, dataset);
    const evaluated = split.pools.eval.items.length;
    const why = `${split.unanswerableQuestionsDropped ?? 0} unanswerable left out; a paper's questions stay together`;
    if (evaluated === 0) {
      problems.push({
        path: `datasets[${i}]`,
        message: `"${dataset.name}" leaves no question for evaluation (${why})`,
      });
    }
    spec.finetuneSizes.forEach((size, k) => {
      const got = size > 0 ? split.pools[poolName(size)].items.length : size;
      if (got >= size) return;
      problems.push({
        path: `finetune_sizes[${k}]`,
        message: `${size} needs ${size} questions, "${dataset.name}" has ${got} beside ${evaluated} for evaluation (${why})`,
      });
    });
  }
  return problems;
}
