import type { DatasetName } from "./types.js";

/** A file published by a dataset's authors. */
export interface RemoteFile {
  /** Name in the cache folder. */
  name: string;
  url: string;
  /** Known digest; when absent, the first download's digest is recorded and later ones must match it. */
  sha256?: string;
  /** A .tgz archive to unpack after download. */
  archive?: boolean;
}

export interface DatasetSource {
  files: RemoteFile[];
  /** Set when the files cannot be fetched without an account: how to get them. */
  manual?: string;
  licence: string;
}

/** The official sources. */
export const DATASET_SOURCES: Record<DatasetName, DatasetSource> = {
  bioasq: {
    files: [],
    manual:
      "BioASQ task B data needs a (free) BioASQ account: sign in at http://participants-area.bioasq.org/datasets/, " +
      "download the Task B training or golden test batches, then pass --from PATH (a JSON file or a folder of them)",
    licence: "BioASQ/NLM terms of use",
  },
  nq: {
    files: [
      {
        name: "simplified-nq-train.jsonl.gz",
        url: "https://storage.googleapis.com/natural_questions/v1.0-simplified/simplified-nq-train.jsonl.gz",
      },
    ],
    licence: "CC BY-SA 3.0",
  },
  "nq-open": {
    files: [
      {
        name: "NQ-open.train.jsonl",
        url: "https://raw.githubusercontent.com/google-research-datasets/natural-questions/master/nq_open/NQ-open.train.jsonl",
      },
      {
        name: "NQ-open.dev.jsonl",
        url: "https://raw.githubusercontent.com/google-research-datasets/natural-questions/master/nq_open/NQ-open.dev.jsonl",
      },
      {
        name: "nq-open-oracle.jsonl.gz",
        url: "https://raw.githubusercontent.com/nelson-liu/lost-in-the-middle/main/qa_data/nq-open-oracle.jsonl.gz",
      },
    ],
    licence: "CC BY-SA 3.0",
  },
  qasper: {
    files: [
      {
        name: "qasper-train-dev-v0.3.tgz",
        url: "https://qasper-dataset.s3.us-west-2.amazonaws.com/qasper-train-dev-v0.3.tgz",
        archive: true,
      },
    ],
    licence: "CC BY 4.0",
  },
};
