import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { loadBioAsq } from "./bioasq.js";
import { loadNaturalQuestions, loadNqOpen } from "./nq.js";
import { loadQasper } from "./qasper.js";
import type { DatasetName, LoadedDataset } from "./types.js";

async function filesOf(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  return (await readdir(path)).sort().map((name) => join(path, name));
}

function pick(files: string[], pattern: RegExp, what: string, path: string): string {
  const found = files.find((f) => pattern.test(f));
  if (!found) throw new Error(`${path}: no ${what} file found`);
  return found;
}

/**
 * Loads a dataset from a file or a folder (e.g. the download cache). Folders: BioASQ reads every .json;
 * NQ its simplified*.jsonl(.gz), else the first other *.jsonl(.gz); NQ-open its NQ-open*.jsonl questions (dev preferred) and *oracle*.jsonl(.gz);
 * Qasper its *dev*.json (else the first .json).
 */
export async function loadDataset(dataset: DatasetName, path: string): Promise<LoadedDataset> {
  const files = await filesOf(path);
  switch (dataset) {
    case "bioasq":
      return loadBioAsq(path);
    case "nq":
      // The folder may also hold NQ-open's files (both read from nq/): the simplified file first.
      return loadNaturalQuestions(
        files.find((f) => /simplified[^/]*\.jsonl(\.gz)?$/.test(f)) ??
          pick(
            files.filter((f) => !/(NQ-open[^/]*|oracle[^/]*)$/.test(f)),
            /\.jsonl(\.gz)?$/,
            "NQ simplified .jsonl",
            path,
          ),
      );
    case "nq-open": {
      const oracle = files.find((f) => /oracle.*\.jsonl(\.gz)?$/.test(f));
      const questions =
        files.find((f) => /NQ-open\.dev\.jsonl$/.test(f)) ?? files.find((f) => /\.jsonl$/.test(f) && f !== oracle);
      return loadNqOpen({ questions, oracle });
    }
    case "qasper":
      return loadQasper(files.find((f) => /dev.*\.json$/.test(f)) ?? pick(files, /\.json$/, "Qasper .json", path));
  }
}
