import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { DatasetDownloadError } from "./errors.js";
import { type FetchedFile, type FileProgress, fetchResumable } from "./resumable-fetch.js";
import { atMirror, DATASET_SOURCES, type RemoteFile } from "./sources.js";
import type { DatasetName } from "./types.js";

export interface DownloadOptions {
  dataset: DatasetName;
  /**
   * The datasets directory; files land in its folder for the dataset (DATASET_SOURCES[dataset].folder, where the
   * loaders and `ragtune run` read them). Default ".ragtune/datasets".
   */
  cacheDir?: string;
  /** Use this local file or folder instead of the network (copied in; pinned files verified, archives unpacked). */
  from?: string;
  /** A transfer that stays silent this long counts as broken off (and resumes), ms. Default 60 s. */
  timeoutMs?: number;
  /** Overrides the official sources (tests, mirrors with their own pins). */
  files?: RemoteFile[];
  /** Base URL that serves the same files by name (RAGTUNE_DATASETS_MIRROR); the pins still apply. */
  mirror?: string;
  /** Further tries of a transfer that broke off, each resuming where the last stopped. Default 2. */
  retries?: number;
  /** Progress lines for a CLI. */
  log?: (line: string) => void;
  /** Byte progress of each file being fetched (a progress bar). */
  onProgress?: (progress: FileProgress) => void;
}

export interface DownloadedFile {
  path: string;
  sha256: string;
  /** "cache" (already there and verified), "network" or "local". */
  origin: "cache" | "network" | "local";
  /** Bytes that came over the network for this file in this call (0 from the cache or --from). */
  fetchedBytes: number;
  /** Bytes a resumed transfer found already in the .part file. */
  resumedFrom: number;
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

/** Copies a local file or folder's files in; a file with a pinned name must match its pin, archives are unpacked. */
async function copyLocal(options: DownloadOptions, directory: string, sums: Map<string, string>) {
  const from = options.from!;
  const info = await stat(from).catch(() => undefined);
  if (!info) throw new DatasetDownloadError(`${options.dataset}: --from ${from} does not exist`);
  const sources = info.isDirectory()
    ? (await readdir(from)).filter((n) => n !== SUMS_FILE && !n.endsWith(".part")).map((n) => join(from, n))
    : [from];
  const pinned = new Map((options.files ?? DATASET_SOURCES[options.dataset].files).map((f) => [f.name, f]));
  const files: DownloadedFile[] = [];
  for (const source of sources) {
    if (!(await stat(source)).isFile()) continue;
    const name = basename(source);
    const sha256 = await sha256OfFile(source);
    const pin = pinned.get(name);
    if (pin?.sha256 && pin.sha256 !== sha256) {
      throw new DatasetDownloadError(
        `${options.dataset}: refused ${source}: sha256 ${sha256}, expected ${pin.sha256} (${pin.url})`,
        { reason: "checksum" },
      );
    }
    const target = join(directory, name);
    if (resolve(source) !== resolve(target)) await copyFile(source, target);
    if (pin?.archive) await unpack(target, directory);
    sums.set(name, sha256);
    files.push({ path: target, sha256, origin: "local", fetchedBytes: 0, resumedFrom: 0 });
    options.log?.(`${options.dataset}: copied ${source} (sha256 ${sha256}${pin?.sha256 ? ", matches its pin" : ""})`);
  }
  return files;
}

/** Fetches one file, resuming after a broken transfer up to `retries` more times. */
async function fetchWithRetries(file: RemoteFile, target: string, options: DownloadOptions): Promise<FetchedFile> {
  const hint =
    `check the network, set RAGTUNE_DATASETS_MIRROR to a mirror, or download ${file.url} yourself and run ` +
    `\`ragtune datasets download ${options.dataset} --from PATH\``;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetchResumable(file, target, {
        label: options.dataset,
        hint,
        timeoutMs: options.timeoutMs ?? 60_000,
        onProgress: options.onProgress,
      });
    } catch (error) {
      const retry = error instanceof DatasetDownloadError && error.reason === "interrupted";
      if (!retry || attempt >= (options.retries ?? 2)) throw error;
      options.log?.(`${options.dataset}: ${error.message.split(";")[0]}; resuming (try ${attempt + 2})`);
    }
  }
}

/**
 * Fetches a dataset's official files (or a mirror's, or a local copy with `from`) into its folder under the
 * datasets directory, verifying each against its pinned sha256, or against the digest recorded in SHA256SUMS when
 * it was first fetched. Cached files that verify are not fetched again; a broken transfer resumes from its .part.
 * Fails with a DatasetDownloadError whose `reason` and message say what happened and what to do.
 */
export async function downloadDataset(options: DownloadOptions): Promise<DownloadResult> {
  const source = DATASET_SOURCES[options.dataset];
  const directory = join(options.cacheDir ?? ".ragtune/datasets", source.folder);
  if (!options.from && (options.files ?? source.files).length === 0) {
    throw new DatasetDownloadError(`${options.dataset}: ${source.manual ?? "no download source"}`, {
      reason: "manual",
    });
  }
  await mkdir(directory, { recursive: true });
  const sums = await readSums(directory);
  const log = options.log ?? (() => {});

  if (options.from) {
    const files = await copyLocal(options, directory, sums);
    await writeSums(directory, sums);
    return { dataset: options.dataset, directory, files };
  }

  const files: DownloadedFile[] = [];
  for (const official of options.files ?? source.files) {
    const file = atMirror(official, options.mirror);
    const target = join(directory, file.name);
    const expected = file.sha256 ?? sums.get(file.name);
    if (await exists(target)) {
      const sha256 = await sha256OfFile(target);
      if (!expected || sha256 === expected) {
        sums.set(file.name, sha256);
        files.push({ path: target, sha256, origin: "cache", fetchedBytes: 0, resumedFrom: 0 });
        log(`${options.dataset}: ${file.name} cached (sha256 ${sha256})`);
        continue;
      }
      log(`${options.dataset}: cached ${file.name} does not match its sha256; fetching again`);
      await rm(target, { force: true });
    }
    log(`${options.dataset}: fetching ${file.url}`);
    const fetched = await fetchWithRetries({ ...file, sha256: expected }, target, options);
    sums.set(file.name, fetched.sha256);
    await writeSums(directory, sums);
    if (file.archive) await unpack(target, directory);
    files.push({
      path: target,
      sha256: fetched.sha256,
      origin: "network",
      fetchedBytes: fetched.fetchedBytes,
      resumedFrom: fetched.resumedFrom,
    });
  }
  await writeSums(directory, sums);
  return { dataset: options.dataset, directory, files };
}
