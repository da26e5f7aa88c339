/** `ragtune demo-corpus [--out DIR] [--seed N]`: writes the fictional demo corpus explicitly. */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_DEMO_SEED, writeDemoCorpus } from "@ragtune/demo-corpus";

export const demoCorpusUsage = `usage: ragtune demo-corpus [--out DIR] [--seed N]
  Writes the demo corpus (fictional data, in BioASQ, NQ-open and Qasper's native formats) into DIR
  (default: .ragtune/demo-corpus, where \`ragtune run\` looks when no dataset folder is found).
  Run on it with \`ragtune run --data DIR --datasets bioasq,nq-open,qasper\`.
`;

export async function demoCorpusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: "string" },
      seed: { type: "string", default: String(DEFAULT_DEMO_SEED) },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(demoCorpusUsage);
    return 0;
  }
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    console.error(`--seed: must be a non-negative integer, got "${values.seed}"`);
    return 2;
  }
  const out = resolve(values.out ?? resolve(process.env.RAGTUNE_DATA_DIR || ".ragtune", "demo-corpus"));
  const manifest = await writeDemoCorpus(out, seed);
  console.log(`demo corpus v${manifest.version} (fictional data), seed ${seed}, written to ${out}:`);
  for (const file of manifest.files) console.log(`  ${file.path}`);
  return 0;
}
