import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DatasetDownloadError } from "./errors.js";
import { DATASET_SOURCES, type RemoteFile } from "./sources.js";
import type { DatasetName } from "./types.js";

export interface DownloadOptions {
  dataset: DatasetName;
  /** Cache root; files land in <cacheDir>/<dataset>/. Default ".ragtune/datasets". */
  cacheDir?: string;
  /** Use this local file or folder instead of the network (copied into the cache, digests recorded). */
  from?: string;
  /** Per-file timeout, ms. Default 30 minutes. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Overrides the official sources (tests, mirrors). */
  files?: RemoteFile[];
  /** Progress lines for a CLI. */
  log?: (line: string) => void;
}

export interface DownloadedFile {
  path: string;
  sha256: string;
  /** "cache" (already there and verified), "network" or "local". */
  origin: "cache" | "network" | "local";
}

export interface DownloadResult {
  dataset: DatasetName;
  directory: string;
  files: DownloadedFile[];
}

const SUMS_FILE = "SHA256SUMS";

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

/** `sha256  name` lines, as sha256sum writes them. */
async function readSums(directory: string): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  const text = await readFile(join(directory, SUMS_FILE), "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    const match = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
    if (match) sums.set(match[2], match[1]);
  }
  return sums;
}

async function writeSums(directory: string, sums: Map<string, string>): Promise<void> {
  const lines = [...sums].sort(([a], [b]) => a.localeCompare(b)).map(([name, sum]) => `${sum}  ${name}`);
  await writeFile(join(directory, SUMS_FILE), `${lines.join("\n")}\n`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function unpack(archive: string, directory: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const tar = spawn("tar", ["-xzf", archive, "-C", directory], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    tar.stderr.on("data", (d) => {
      stderr += d;
    });
    tar.on("error", reject);
    tar.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`tar exited ${code}: ${stderr.trim()}`))));
  });
}

async function fetchToFile(file: RemoteFile, target: string, options: DownloadOptions): Promise<string> {
  const doFetch = options.fetch ?? fetch;
  const hint = `download ${file.url} yourself and run: ragtune datasets download ${options.dataset} --from PATH`;
  let response: Response;
  try {
    response = await doFetch(file.url, { signal: AbortSignal.timeout(options.timeoutMs ?? 30 * 60_000) });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new DatasetDownloadError(`${options.dataset}: cannot reach ${file.url} (${cause}); ${hint}`, {
      cause: error,
    });
  }
  if (!response.ok || !response.body) {
    throw new DatasetDownloadError(`${options.dataset}: ${file.url} answered HTTP ${response.status}; ${hint}`);
  }
  const partial = `${target}.partial`;
  const hash = createHash("sha256");
  try {
    const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream);
    body.on("data", (chunk) => hash.update(chunk));
    await pipeline(body, createWriteStream(partial));
  } catch (error) {
    await rm(partial, { force: true });
    throw new DatasetDownloadError(
      `${options.dataset}: download of ${file.url} broke off: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const digest = hash.digest("hex");
  if (file.sha256 && digest !== file.sha256) {
    await rm(partial, { force: true });
    throw new DatasetDownloadError(`${options.dataset}: ${file.url} has sha256 ${digest}, expected ${file.sha256}`);
  }
  await rename(partial, target);
  return digest;
}

/**
 * Fetches a dataset's official files into the cache (or copies a local one with `from`), verifying each against
 * its known sha256, or against the digest recorded in SHA256SUMS when it was first fetched. Cached files that
 * verify are not fetched again. Fails with a DatasetDownloadError that says what to do when the network is out.
 */
export async function downloadDataset(options: DownloadOptions): Promise<DownloadResult> {
  const directory = join(options.cacheDir ?? ".ragtune/datasets", options.dataset);
  await mkdir(directory, { recursive: true });
  const sums = await readSums(directory);
  const log = options.log ?? (() => {});
  const files: DownloadedFile[] = [];

  if (options.from) {
    const info = await stat(options.from).catch(() => undefined);
    if (!info) throw new DatasetDownloadError(`${options.dataset}: --from ${options.from} does not exist`);
    const sources = info.isDirectory()
      ? (await readdir(options.from)).filter((n) => n !== SUMS_FILE).map((n) => join(options.from!, n))
      : [options.from];
    for (const source of sources) {
      if (!(await stat(source)).isFile()) continue;
      const target = join(directory, basename(source));
      await copyFile(source, target);
      const sha256 = await sha256OfFile(target);
      sums.set(basename(source), sha256);
      files.push({ path: target, sha256, origin: "local" });
      log(`${options.dataset}: copied ${source} (sha256 ${sha256})`);
    }
    await writeSums(directory, sums);
    return { dataset: options.dataset, directory, files };
  }

  const source = DATASET_SOURCES[options.dataset];
  const remote = options.files ?? source.files;
  if (remote.length === 0)
    throw new DatasetDownloadError(`${options.dataset}: ${source.manual ?? "no download source"}`);
  for (const file of remote) {
    const target = join(directory, file.name);
    const expected = file.sha256 ?? sums.get(file.name);
    if (await exists(target)) {
      const sha256 = await sha256OfFile(target);
      if (!expected || sha256 === expected) {
        sums.set(file.name, sha256);
        files.push({ path: target, sha256, origin: "cache" });
        log(`${options.dataset}: ${file.name} cached (sha256 ${sha256})`);
        continue;
      }
      log(`${options.dataset}: cached ${file.name} does not match its sha256; fetching again`);
    }
    log(`${options.dataset}: fetching ${file.url}`);
    const sha256 = await fetchToFile({ ...file, sha256: expected }, target, options);
    sums.set(file.name, sha256);
    await writeSums(directory, sums);
    if (file.archive) await unpack(target, directory);
    files.push({ path: target, sha256, origin: "network" });
  }
  await writeSums(directory, sums);
  return { dataset: options.dataset, directory, files };
}
