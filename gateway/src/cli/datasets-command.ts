/** `ragtune datasets download|split|verify`: fetch and verify datasets, record seeded splits, prove no leakage. */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  createManifest,
  DATASET_NAMES,
  type DatasetName,
  loadDataset,
  readManifest,
  splitDataset,
  writeManifest,
} from "@ragtune/datasets";
import { type CommandIo, downloadCommand } from "./dataset-download.js";

export const datasetsUsage = `usage:
  ragtune datasets download <${DATASET_NAMES.join("|")}> [--from PATH] [--data DIR] [--mirror URL] [--sources FILE] [--retries N]
      fetch the public files (or copy PATH) into DIR/<folder>, where \`ragtune run\` reads them (DIR: --data,
      else RAGTUNE_DATASETS_DIR, else .ragtune/datasets); progress bar, pinned sha256, resumes a broken transfer.
      nq-open: NQ-open dev questions + their gold passages (about 1.4 MB); qasper: AllenAI's v0.3 archives
      (14.7 MB); bioasq: needs registration at participants-area.bioasq.org, then --from PATH.
      Mirrors: --mirror URL or RAGTUNE_DATASETS_MIRROR (same files by name, same pins); --sources FILE or
      RAGTUNE_DATASETS_SOURCES ({"<dataset>": [{name, url, sha256, bytes, archive}]}) for other pins.
      Exit 3: host unreachable (offline); 2: needs --from; 1: HTTP error, broken transfer, checksum refused.
  ragtune datasets split <dataset> <PATH> --out MANIFEST [--seed N] [--sizes 200,500,1000] [--eval-size N]
      load PATH, split it (nested fine-tuning pools, held-out evaluation set) and write the manifest
  ragtune datasets verify <MANIFEST>
      recompute every hash and prove that no evaluation question, paper or near-duplicate is in a fine-tuning pool
`;

function datasetName(value: string | undefined): DatasetName {
  if (!value || !(DATASET_NAMES as readonly string[]).includes(value)) {
    throw new Error(`dataset must be one of ${DATASET_NAMES.join(", ")}, got ${value ?? "nothing"}`);
  }
  return value as DatasetName;
}

export async function datasetsCommand(
  argv: string[],
  io: CommandIo = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      from: { type: "string" },
      data: { type: "string" },
      cache: { type: "string" },
      mirror: { type: "string" },
      sources: { type: "string" },
      retries: { type: "string" },
      out: { type: "string" },
      seed: { type: "string", default: "0" },
      sizes: { type: "string", default: "200,500,1000" },
      "eval-size": { type: "string" },
    },
  });
  const [action, ...rest] = positionals;
  switch (action) {
    case "download":
      return downloadCommand(
        {
          dataset: datasetName(rest[0]),
          from: values.from,
          data: values.data ?? values.cache,
          mirror: values.mirror,
          sources: values.sources,
          retries: values.retries === undefined ? undefined : Number(values.retries),
        },
        io,
      );
    case "split": {
      const dataset = datasetName(rest[0]);
      if (!rest[1] || !values.out) throw new Error("split needs a dataset, its PATH and --out MANIFEST");
      const loaded = await loadDataset(dataset, resolve(rest[1]));
      const split = splitDataset(loaded.items, {
        dataset,
        seed: Number(values.seed),
        poolSizes: values.sizes.split(",").map(Number),
        evalSize: values["eval-size"] ? Number(values["eval-size"]) : undefined,
      });
      const manifest = createManifest(split, { sources: loaded.sources.map((path) => ({ path })) });
      await writeManifest(values.out, manifest);
      for (const [name, pool] of Object.entries(manifest.pools)) {
        console.log(`${name.padEnd(16)} ${String(pool.size).padStart(5)} items  sha256 ${pool.sha256}`);
      }
      return 0;
    }
    case "verify": {
      if (!rest[0]) throw new Error("verify needs a MANIFEST");
      const manifest = await readManifest(rest[0]);
      console.log(
        `${rest[0]}: verified (${Object.keys(manifest.pools).join(", ")}); no evaluation item, paper or near-duplicate question in any pool`,
      );
      return 0;
    }
    default:
      io.out.write(datasetsUsage);
      return action ? 2 : 0;
  }
}
