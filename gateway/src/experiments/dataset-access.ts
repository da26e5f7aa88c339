/**
 * Which server paths an experiment spec may name as datasets: files and folders under the gateway's data roots
 * (GATEWAY_DATA_ROOTS; by default the dataset download cache, the demo corpus and the shared samples), regular
 * files only (a FIFO or /dev/zero never ends), none over a byte limit. A spec is checked when it is created and
 * again before a run reads it, so a record written past the API cannot make the gateway read elsewhere.
 */
import { readdir, stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import type { ExperimentSpec } from "@ragtune/contracts/gateway";
import { resolveUnderRoots } from "@ragtune/datasets";
import { folderListSetting, numberSetting } from "@ragtune/runtime";
import { repoRoot } from "../stack.js";
import type { SpecProblem } from "./experiment-spec.js";

export interface DatasetAccess {
  /** Absolute folders datasets may be read from. */
  roots: readonly string[];
  /** Largest file a dataset may hold, bytes. */
  maxFileBytes: number;
}

/** Big enough for Natural Questions' simplified training file (about 4.5 GB gzipped), which is streamed. */
export const DEFAULT_DATASET_MAX_FILE_BYTES = 8 * 1024 ** 3;

/** Where `ragtune run` and `ragtune datasets download` keep datasets, seen from this process's environment. */
export function defaultDataRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const stateDir = resolve(env.RAGTUNE_DATA_DIR || ".ragtune");
  return [
    ...(env.RAGTUNE_DATASETS_DIR ? [resolve(env.RAGTUNE_DATASETS_DIR)] : []),
    join(stateDir, "datasets"),
    join(stateDir, "demo-corpus"),
    resolve(repoRoot, "../shared/datasets"),
  ];
}

export function defaultDatasetAccess(env: NodeJS.ProcessEnv = process.env): DatasetAccess {
  return { roots: defaultDataRoots(env), maxFileBytes: DEFAULT_DATASET_MAX_FILE_BYTES };
}

/**
 * GATEWAY_DATA_ROOTS for a stack started for one run (`ragtune run`): what the environment configures (else the
 * defaults) and the run's own dataset paths, which its user named on their own machine.
 */
export function runDataRoots(
  spec: { datasets?: readonly { paths?: readonly string[] }[] },
  env: NodeJS.ProcessEnv = process.env,
): string {
  const configured = env.GATEWAY_DATA_ROOTS?.trim() ? env.GATEWAY_DATA_ROOTS.split(",") : defaultDataRoots(env);
  const own = (spec.datasets ?? []).flatMap((d) => d.paths ?? []).filter((p) => isAbsolute(p));
  return [...new Set([...configured.map((r) => r.trim()), ...own])].filter(Boolean).join(",");
}

export const datasetAccessSettings = {
  dataRoots: folderListSetting({
    env: "GATEWAY_DATA_ROOTS",
    description:
      "folders (absolute, comma separated) experiment specs may read datasets from; empty: RAGTUNE_DATASETS_DIR, " +
      "<RAGTUNE_DATA_DIR>/datasets and /demo-corpus, and the shared samples beside the checkout",
  }),
  datasetMaxBytes: numberSetting({
    env: "GATEWAY_DATASET_MAX_BYTES",
    description: "largest file a dataset may hold, bytes",
    default: DEFAULT_DATASET_MAX_FILE_BYTES,
    min: 1,
    integer: true,
  }),
};

/** The access the settings describe (empty roots: the defaults). */
export function datasetAccessFrom(config: { dataRoots: string[]; datasetMaxBytes: number }): DatasetAccess {
  return {
    roots: config.dataRoots.length ? config.dataRoots : defaultDataRoots(),
    maxFileBytes: config.datasetMaxBytes,
  };
}

/** Why the gateway may not read `path` as a dataset; undefined when it may. Never reads file content. */
export async function datasetPathProblem(path: string, access: DatasetAccess): Promise<string | undefined> {
  if (!isAbsolute(path)) return `must be an absolute path on the gateway's host, got "${path}"`;
  const real = await resolveUnderRoots(path, access.roots);
  if (!real) return `"${path}" is not under a data folder this gateway reads (${access.roots.join(", ")})`;
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(real);
  } catch {
    return `no such file or folder: ${path}`;
  }
  if (info.isFile()) return fileProblem(path, info.size, access);
  if (!info.isDirectory()) return `"${path}" is not a regular file or folder`;
  // The loaders read a folder's own files (not its subfolders): each must pass as a file named alone would.
  for (const name of (await readdir(real)).sort()) {
    const entry = join(path, name);
    const entryReal = await resolveUnderRoots(entry, access.roots);
    if (!entryReal) return `"${entry}" leads out of the data folders this gateway reads`;
    const entryInfo = await stat(entryReal).catch(() => undefined);
    if (!entryInfo || entryInfo.isDirectory()) continue;
    if (!entryInfo.isFile()) return `"${entry}" is not a regular file`;
    const tooBig = fileProblem(entry, entryInfo.size, access);
    if (tooBig) return tooBig;
  }
  return undefined;
}

function fileProblem(path: string, size: number, access: DatasetAccess): string | undefined {
  return size > access.maxFileBytes
    ? `"${path}" holds ${size} bytes, more than the ${access.maxFileBytes} a dataset file may (GATEWAY_DATASET_MAX_BYTES)`
    : undefined;
}

/** Problems of every dataset path of a spec, at `datasets[i].paths[j]`. */
export async function datasetAccessProblems(spec: ExperimentSpec, access: DatasetAccess): Promise<SpecProblem[]> {
  const problems: SpecProblem[] = [];
  for (const [i, dataset] of spec.datasets.entries()) {
    for (const [j, path] of dataset.paths.entries()) {
      const message = await datasetPathProblem(path, access);
      if (message) problems.push({ path: `datasets[${i}].paths[${j}]`, message });
    }
  }
  return problems;
}
