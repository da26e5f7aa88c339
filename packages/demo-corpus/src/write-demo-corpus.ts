import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { generateBioAsq } from "./bioasq.js";
import { generateNqOpen } from "./nq-open.js";
import { generateQasper } from "./qasper.js";

/** Bump whenever the generator's output changes for a given seed: a cached corpus of another version is rewritten. */
export const DEMO_CORPUS_VERSION = 1;
export const DEMO_CORPUS_MANIFEST = "demo-corpus.json";
export const DEFAULT_DEMO_SEED = 0;

export interface DemoCorpusManifest {
  generator: "@ragtune/demo-corpus";
  version: number;
  seed: number;
  /** Paths relative to the corpus folder, with their sha256. */
  files: { path: string; sha256: string }[];
}

const README = `# ragtune demo corpus (fictional data)

Written by @ragtune/demo-corpus. Every person, place, compound, organism, language and system named here is
invented, so no model can know the answers without these documents. The files are in the datasets' native
formats: bioasq/ (BioASQ task-B golden JSON), nq/ (NQ-open questions + lost-in-the-middle oracle passages),
qasper/ (Qasper v0.3 papers). Regenerate with \`ragtune demo-corpus --out DIR --seed N\`.
`;

/** Every file of the corpus as bytes, in a fixed order: the same seed gives the same bytes. */
export function renderDemoCorpus(seed: number): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const batch of generateBioAsq(seed)) {
    files.set(`bioasq/${batch.name}`, Buffer.from(`${JSON.stringify({ questions: batch.questions }, null, 2)}\n`));
  }
  const nq = generateNqOpen(seed);
  const lines = (records: unknown[]) => records.map((r) => `${JSON.stringify(r)}\n`).join("");
  files.set("nq/NQ-open.dev.jsonl", Buffer.from(lines(nq.questions)));
  files.set("nq/nq-open-oracle.jsonl.gz", gzipSync(lines(nq.oracle)));
  files.set("qasper/qasper-demo-v0.3.json", Buffer.from(JSON.stringify(generateQasper(seed))));
  files.set("README.md", Buffer.from(README));
  return files;
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** Writes the corpus into `dir` (replacing what was there) through a sibling temp folder, then renames it in. */
export async function writeDemoCorpus(dir: string, seed = DEFAULT_DEMO_SEED): Promise<DemoCorpusManifest> {
  const files = renderDemoCorpus(seed);
  const manifest: DemoCorpusManifest = {
    generator: "@ragtune/demo-corpus",
    version: DEMO_CORPUS_VERSION,
    seed,
    files: [...files].map(([path, bytes]) => ({ path, sha256: sha256(bytes) })),
  };
  const temp = `${dir}.tmp-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  for (const [path, bytes] of files) {
    await mkdir(dirname(join(temp, path)), { recursive: true });
    await writeFile(join(temp, path), bytes);
  }
  await writeFile(join(temp, DEMO_CORPUS_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  await rename(temp, dir);
  return manifest;
}

async function readManifest(dir: string): Promise<DemoCorpusManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, DEMO_CORPUS_MANIFEST), "utf8")) as DemoCorpusManifest;
  } catch {
    return undefined;
  }
}

/**
 * The corpus in `dir`, written once: kept while its manifest names this generator version and seed and every
 * file still hashes as recorded; otherwise (first run, new version, edited or missing file) written anew.
 */
export async function ensureDemoCorpus(
  dir: string,
  seed = DEFAULT_DEMO_SEED,
): Promise<{ manifest: DemoCorpusManifest; generated: boolean }> {
  const existing = await readManifest(dir);
  if (existing?.version === DEMO_CORPUS_VERSION && existing.seed === seed) {
    const intact = await Promise.all(
      existing.files.map(
        async (f) => sha256(await readFile(join(dir, f.path)).catch(() => Buffer.alloc(0))) === f.sha256,
      ),
    );
    if (intact.every(Boolean)) return { manifest: existing, generated: false };
  }
  return { manifest: await writeDemoCorpus(dir, seed), generated: true };
}
