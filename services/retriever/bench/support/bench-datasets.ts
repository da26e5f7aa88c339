import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
// The loaders live in the gateway (dataset handling is its job); the bench reads them from source.
import { type LoadedDataset, loadBioAsq, loadNqOpen, loadQasper } from "@ragtune/datasets";

export const SHARED_DATASETS = resolve(fileURLToPath(import.meta.url), "../../../../../../shared/datasets");

export function sharedDatasetsMissing(): string | undefined {
  return existsSync(SHARED_DATASETS)
    ? undefined
    : `no ${SHARED_DATASETS}: the real dataset samples live outside the repository`;
}

export interface BenchDataset {
  label: string;
  load: () => Promise<LoadedDataset>;
  /** Metadata key that restricts each question's search to its own source (Qasper: its paper). */
  filterKey?: string;
}

export const BENCH_DATASETS: BenchDataset[] = [
  { label: "qasper", load: () => loadQasper(join(SHARED_DATASETS, "qasper/qasper-sample-6papers.json")) },
  {
    label: "qasper (own paper)",
    load: () => loadQasper(join(SHARED_DATASETS, "qasper/qasper-sample-6papers.json")),
    filterKey: "paper_id",
  },
  { label: "bioasq", load: () => loadBioAsq(join(SHARED_DATASETS, "bioasq")) },
  {
    label: "nq-open",
    load: () =>
      loadNqOpen({
        questions: join(SHARED_DATASETS, "nq/NQ-open.dev.jsonl"),
        oracle: join(SHARED_DATASETS, "nq/nq-open-oracle.jsonl.gz"),
      }),
  },
];
