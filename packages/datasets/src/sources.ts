import type { DatasetName } from "./types.js";

/** A file published by a dataset's authors. */
export interface RemoteFile {
  /** Name in the dataset's folder. */
  name: string;
  url: string;
  /** Pinned digest; when absent, the first download's digest is recorded in SHA256SUMS and later ones must match. */
  sha256?: string;
  /** Pinned size in bytes (what a progress bar shows before the server says). */
  bytes?: number;
  /** A .tgz archive, unpacked into the dataset's folder once verified. */
  archive?: boolean;
}

export interface DatasetSource {
  files: RemoteFile[];
  /** Set when the files cannot be fetched without an account: how to get them. */
  manual?: string;
  /** The folder under a datasets directory where the loaders (and `ragtune run`) read this dataset. */
  folder: string;
  /** Where the files come from and how big they are, for the CLI's help. */
  about: string;
  licence: string;
}

const NQ_OPEN_RAW = "https://raw.githubusercontent.com/google-research-datasets/natural-questions/master/nq_open";
const QASPER_BUCKET = "https://qasper-dataset.s3.us-west-2.amazonaws.com";

/**
 * The official sources. Qasper's archives are pinned by sha256 and size (AllenAI's v0.3 release, the URLs of its
 * official loader; the digests as published by several independent projects that pin them). NQ-open's files have
 * no published digest: the first download's is recorded and later ones must match it.
 */
export const DATASET_SOURCES: Record<DatasetName, DatasetSource> = {
  bioasq: {
    files: [],
    manual:
      "BioASQ task B data needs a (free) BioASQ account: register and sign in at " +
      "http://participants-area.bioasq.org/datasets/, download the Task B training set or golden test batches, " +
      "then run `ragtune datasets download bioasq --from PATH` (PATH: one of their JSON files or a folder of them)",
    folder: "bioasq",
    about: "BioASQ Task B (registration required; --from PATH only)",
    licence: "BioASQ/NLM terms of use",
  },
  nq: {
    files: [
      {
        name: "simplified-nq-train.jsonl.gz",
        url: "https://storage.googleapis.com/natural_questions/v1.0-simplified/simplified-nq-train.jsonl.gz",
      },
    ],
    folder: "nq",
    about: "full Natural Questions, simplified train (about 4 GB; use nq-open for the paper's grid)",
    licence: "CC BY-SA 3.0",
  },
  "nq-open": {
    files: [
      { name: "NQ-open.dev.jsonl", url: `${NQ_OPEN_RAW}/NQ-open.dev.jsonl` },
      {
        name: "nq-open-oracle.jsonl.gz",
        url: "https://raw.githubusercontent.com/nelson-liu/lost-in-the-middle/main/qa_data/nq-open-oracle.jsonl.gz",
      },
    ],
    // Beside the full NQ's folder name, as the shared samples and the demo corpus have it.
    folder: "nq",
    about:
      "NQ-open dev questions (google-research-datasets/natural-questions, 3,610 questions, about 0.4 MB) joined " +
      "with their gold Wikipedia passages (nelson-liu/lost-in-the-middle's nq-open-oracle, 2,655 questions, " +
      "about 1 MB gzipped); not the 40 GB full NQ",
    licence: "CC BY-SA 3.0",
  },
  qasper: {
    files: [
      {
        name: "qasper-train-dev-v0.3.tgz",
        url: `${QASPER_BUCKET}/qasper-train-dev-v0.3.tgz`,
        sha256: "a28fdf966db827bcee3d873107d6b6669864fb7ca8fbf73a192f5e39191bdb5a",
        bytes: 10_835_856,
        archive: true,
      },
      {
        name: "qasper-test-and-evaluator-v0.3.tgz",
        url: `${QASPER_BUCKET}/qasper-test-and-evaluator-v0.3.tgz`,
        sha256: "72a52a41193e2838b8074f80ac074b94f956b84886c36a61c58a7df4171bdd72",
        bytes: 3_865_061,
        archive: true,
      },
    ],
    folder: "qasper",
    about: "Qasper v0.3 release archives from AllenAI's bucket (train+dev 10.8 MB, test+evaluator 3.9 MB)",
    licence: "CC BY 4.0",
  },
};

/** The same file at a mirror: `<mirror>/<name>` (RAGTUNE_DATASETS_MIRROR), checked against the same pins. */
export function atMirror(file: RemoteFile, mirror: string | undefined): RemoteFile {
  return mirror ? { ...file, url: `${mirror.replace(/\/+$/, "")}/${file.name}` } : file;
}
