import { sha256OfFile } from "./download.js";
import { loadDataset } from "./load-dataset.js";
import { createManifest, type SplitManifest, verifyManifest } from "./manifest.js";
import { splitDataset } from "./split.js";
import type { DatasetName, LoadedDataset } from "./types.js";

export interface PrepareSplitOptions {
  dataset: DatasetName;
  /** A dataset file or folder (e.g. the download cache folder). */
  path: string;
  seed: number;
  poolSizes?: number[];
  evalSize?: number;
  /** Keep questions whose evidence document is not in the corpus. Default false: answerable questions only. */
  includeUnanswerable?: boolean;
}

/**
 * Loads a dataset, splits it and returns the verified manifest (sources recorded with their sha256): the whole of
 * `ragtune datasets split` but the writing.
 */
export async function prepareSplit(
  options: PrepareSplitOptions,
): Promise<{ loaded: LoadedDataset; manifest: SplitManifest }> {
  const loaded = await loadDataset(options.dataset, options.path);
  const split = splitDataset(loaded.items, {
    dataset: options.dataset,
    seed: options.seed,
    poolSizes: options.poolSizes,
    evalSize: options.evalSize,
    answerableIn: options.includeUnanswerable ? undefined : new Set(loaded.documents.map((d) => d.id)),
  });
  const sources = await Promise.all(loaded.sources.map(async (path) => ({ path, sha256: await sha256OfFile(path) })));
  const manifest = createManifest(split, { sources });
  const verification = verifyManifest(manifest);
  if (!verification.ok)
    throw new Error(`split of ${options.dataset} does not verify: ${verification.problems.join("; ")}`);
  return { loaded, manifest };
}
