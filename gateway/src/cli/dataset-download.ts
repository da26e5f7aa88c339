/**
 * `ragtune datasets download <dataset>`: fetch a dataset from its public source (or a mirror, or copy --from PATH)
 * into the folder `ragtune run` reads, with progress, pinned checksums and resumable transfers, then load it once
 * to prove the loaders read what landed.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  DATASET_SOURCES,
  DatasetDownloadError,
  type DatasetName,
  type DownloadFailure,
  downloadDataset,
  loadDataset,
  type RemoteFile,
} from "@ragtune/datasets";
import { createDownloadProgress } from "./download-progress.js";
import type { ProgressOutput } from "./progress-view.js";

export interface CommandIo {
  /** Results: what landed where. */
  out: ProgressOutput;
  /** Progress and errors. */
  err: ProgressOutput;
}

export interface DownloadCommandOptions {
  dataset: DatasetName;
  /** --data (or --cache): the datasets directory. */
  data?: string;
  from?: string;
  /** --mirror, else RAGTUNE_DATASETS_MIRROR: a base URL serving the same files by name. */
  mirror?: string;
  /** --sources, else RAGTUNE_DATASETS_SOURCES: a JSON file of files per dataset, for a mirror with its own pins. */
  sources?: string;
  retries?: number;
  /** Plain progress lines at least this often, ms. */
  everyMs?: number;
}

/** Exit codes: what a script can tell apart. */
const EXIT: Record<DownloadFailure, number> = {
  unreachable: 3,
  manual: 2,
  local: 1,
  http: 1,
  interrupted: 1,
  checksum: 1,
};

/** Where `ragtune run` looks for datasets (RAGTUNE_DATASETS_DIR, else the state folder's datasets/). */
export function defaultDatasetsDir(): string {
  return process.env.RAGTUNE_DATASETS_DIR || join(process.env.RAGTUNE_DATA_DIR || ".ragtune", "datasets");
}

/** The files of a sources file (`{"qasper": [{name, url, sha256?, bytes?, archive?}]}`), checked field by field. */
async function filesFromSources(path: string, dataset: DatasetName): Promise<RemoteFile[] | undefined> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new DatasetDownloadError(`sources file ${path}: ${(error as Error).message}`);
  }
  const entry = (json as Record<string, unknown>)?.[dataset];
  if (entry === undefined) return undefined;
  if (!Array.isArray(entry))
    throw new DatasetDownloadError(`sources file ${path}: ${dataset}: must be a list of files`);
  return entry.map((file: Record<string, unknown>, i) => {
    const at = `sources file ${path}: ${dataset}[${i}]`;
    if (typeof file?.name !== "string" || typeof file.url !== "string")
      throw new DatasetDownloadError(`${at}: needs "name" and "url" strings`);
    if (file.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(String(file.sha256)))
      throw new DatasetDownloadError(`${at}.sha256: must be 64 lowercase hex digits`);
    return {
      name: file.name,
      url: file.url,
      sha256: file.sha256 as string | undefined,
      bytes: file.bytes as number | undefined,
      archive: Boolean(file.archive),
    };
  });
}

/** A count of what the loader found: the proof that the files are where, and in the format, the loaders read. */
async function describeLoaded(dataset: DatasetName, directory: string): Promise<string> {
  const loaded = await loadDataset(dataset, directory);
  const withEvidence = loaded.items.filter((i) => i.evidenceDocumentIds.length > 0).length;
  return (
    `${dataset}: ${loaded.items.length.toLocaleString("en-US")} questions (${withEvidence.toLocaleString("en-US")} ` +
    `with gold evidence), ${loaded.documents.length.toLocaleString("en-US")} corpus documents, read from ${directory}`
  );
}

export async function downloadCommand(options: DownloadCommandOptions, io: CommandIo): Promise<number> {
  const { dataset } = options;
  if (options.retries !== undefined && !(Number.isInteger(options.retries) && options.retries >= 0)) {
    io.err.write(`ragtune datasets download: --retries must be a whole number ≥ 0\n`);
    return 2;
  }
  const progress = createDownloadProgress(io.err, { everyMs: options.everyMs });
  const sources = options.sources ?? process.env.RAGTUNE_DATASETS_SOURCES;
  try {
    if (!options.from && DATASET_SOURCES[dataset].files.length)
      io.err.write(`${dataset}: ${DATASET_SOURCES[dataset].about}\n`);
    const result = await downloadDataset({
      dataset,
      cacheDir: options.data ?? defaultDatasetsDir(),
      from: options.from,
      mirror: options.mirror ?? process.env.RAGTUNE_DATASETS_MIRROR,
      files: sources ? await filesFromSources(sources, dataset) : undefined,
      retries: options.retries,
      log: (line) => {
        progress.close();
        io.err.write(`${line}\n`);
      },
      onProgress: progress.update,
    });
    for (const file of result.files) {
      const fetched =
        file.origin === "network"
          ? `fetched ${file.fetchedBytes} bytes${file.resumedFrom ? `, resumed after ${file.resumedFrom}` : ""}`
          : file.origin;
      io.out.write(`${file.sha256}  ${file.path}  (${fetched})\n`);
    }
    io.out.write(`${await describeLoaded(dataset, result.directory)}\n`);
    return 0;
  } catch (error) {
    progress.close();
    if (!(error instanceof DatasetDownloadError)) throw error;
    io.err.write(`ragtune datasets download: ${error.message}\n`);
    return EXIT[error.reason];
  }
}
