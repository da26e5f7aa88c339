/**
 * Unpacks the trainer's PEFT adapter archives into a directory an inference server reads (vLLM loads LoRA adapters
 * from directories: `<dir>/<adapter>/adapter_config.json`, weights, ...). Unpacking is safe (regular files and
 * folders only, no path leaves the adapter's folder) and atomic (a hidden temporary folder renamed into place), so
 * a reader of `<dir>` sees either no adapter folder or a whole one.
 */
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { Code, ConnectError, failedPrecondition, notFound, unavailable } from "@ragtune/runtime";
import {
  ADAPTER_ID,
  AdapterArchiveError,
  type AdapterArchiveSource,
  isRegularFile,
  ustarEntries,
} from "@ragtune/adapter-archive";

/** The file that makes a folder a PEFT adapter (vLLM refuses a folder without it). */
export const PEFT_CONFIG_FILE = "adapter_config.json";

/** An entry's path as segments under the adapter folder; throws for absolute paths and `..`. */
function safeSegments(name: string): string[] {
  if (name.startsWith("/") || name.includes("\\") || name.includes("\0") || /^[A-Za-z]:/.test(name)) {
    throw new AdapterArchiveError(`unsafe path in archive: ${JSON.stringify(name)}`);
  }
  const segments = name.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) throw new AdapterArchiveError(`unsafe path in archive: ${JSON.stringify(name)}`);
  return segments;
}

const fsConflict = new Set(["EEXIST", "ENOTDIR", "EISDIR"]);

/**
 * Writes the archive's regular files and folders under `target` (which must exist and be empty). Links, devices
 * and any other entry type are refused, as are paths that would leave `target`: since nothing but regular files
 * and folders is ever created, no later entry can be redirected through a link either.
 */
export async function extractAdapterArchive(archive: Uint8Array, target: string): Promise<string[]> {
  const root = resolve(target);
  const written: string[] = [];
  for (const entry of ustarEntries(archive)) {
    const segments = safeSegments(entry.name);
    const regular = isRegularFile(entry);
    if (!regular && entry.type !== "5") {
      const kind = { "1": "hard link", "2": "symbolic link", "3": "device", "4": "device", "6": "FIFO" }[entry.type];
      throw new AdapterArchiveError(
        `archive entry ${JSON.stringify(entry.name)} is a ${kind ?? `type ${JSON.stringify(entry.type)} entry`}; only regular files and folders are unpacked`,
      );
    }
    if (segments.length === 0) {
      if (regular) throw new AdapterArchiveError("archive holds a file without a name");
      continue;
    }
    const path = join(root, ...segments);
    if (!path.startsWith(root + sep)) throw new AdapterArchiveError(`unsafe path in archive: ${entry.name}`);
    try {
      if (!regular) {
        await mkdir(path, { recursive: true });
        continue;
      }
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, entry.data, { flag: "wx", mode: 0o644 });
      written.push(segments.join("/"));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      if (fsConflict.has(code))
        throw new AdapterArchiveError(`archive entry ${entry.name} conflicts with another entry`);
      throw error;
    }
  }
  return written;
}

/** What is at a path: "file", "directory", "other", or undefined when nothing is. */
async function pathKind(path: string): Promise<"file" | "directory" | "other" | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? "file" : info.isDirectory() ? "directory" : "other";
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** A partial folder older than this was left by a process that died mid-unpack (a live unpack takes seconds). */
export const STALE_PARTIAL_MS = 10 * 60_000;

/** Removes `.<adapter>.partial-*` folders older than STALE_PARTIAL_MS; fresher ones may be another replica's. */
async function removeStalePartials(dir: string, adapterId: string, now = Date.now()): Promise<void> {
  const prefix = `.${adapterId}.partial-`;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && now - info.mtimeMs > STALE_PARTIAL_MS) await rm(path, { recursive: true, force: true });
  }
}

/**
 * An adapter's archive from the trainer's store, undefined when there is none. FAILED_PRECONDITION: the store holds
 * a corrupt one (checksum mismatch); UNAVAILABLE: the store does not answer.
 */
export async function fetchAdapterArchive(
  archives: AdapterArchiveSource,
  adapterId: string,
): Promise<Uint8Array | undefined> {
  try {
    return await archives.fetch(adapterId);
  } catch (error) {
    if (error instanceof AdapterArchiveError) throw failedPrecondition(`adapter ${adapterId}: ${error.message}`);
    throw unavailable(`adapter store ${archives.location}: ${(error as Error).message}`, error);
  }
}

export interface AdapterDirectory {
  /** The folder adapters are unpacked into (absolute). */
  readonly dir: string;
  /**
   * Makes `<dir>/<adapter>/` hold the adapter's files, fetching and unpacking its archive unless a whole folder is
   * there already (from an earlier run, or another replica sharing the folder); resolves with its path. Concurrent
   * calls for one adapter share one fetch. NOT_FOUND: no such adapter; FAILED_PRECONDITION: its archive is corrupt,
   * unsafe or no PEFT adapter; UNAVAILABLE: the store does not answer.
   */
  materialize(adapterId: string): Promise<string>;
}

export function createAdapterDirectory(options: { dir: string; archives: AdapterArchiveSource }): AdapterDirectory {
  const dir = resolve(options.dir);
  const { archives } = options;
  const inFlight = new Map<string, Promise<string>>();

  async function unpack(adapterId: string): Promise<string> {
    if (!ADAPTER_ID.test(adapterId)) throw notFound("adapter", adapterId);
    const target = join(dir, adapterId);
    const complete = async () => (await pathKind(join(target, PEFT_CONFIG_FILE))) === "file";
    if (await pathKind(target)) {
      if (await complete()) return target;
      throw failedPrecondition(
        `adapter ${adapterId}: ${target} exists but holds no ${PEFT_CONFIG_FILE}; remove it to have the adapter unpacked again`,
      );
    }
    const archive = await fetchAdapterArchive(archives, adapterId);
    if (!archive) throw notFound("adapter", `${adapterId} (no archive ${adapterId}.tar in ${archives.location})`);

    let partial: string | undefined;
    try {
      await mkdir(dir, { recursive: true });
      await removeStalePartials(dir, adapterId);
      partial = await mkdtemp(join(dir, `.${adapterId}.partial-`));
      const files = await extractAdapterArchive(archive, partial);
      if (!files.includes(PEFT_CONFIG_FILE)) {
        throw new AdapterArchiveError(`archive holds no ${PEFT_CONFIG_FILE} at its top: not a PEFT adapter`);
      }
      // mkdtemp makes the folder private (0700); the inference server may run as another user.
      await chmod(partial, 0o755);
      try {
        await rename(partial, target);
        partial = undefined;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // Another process sharing the folder unpacked it first: theirs is as good as ours.
        if ((code === "ENOTEMPTY" || code === "EEXIST") && (await complete())) return target;
        throw error;
      }
      return target;
    } catch (error) {
      if (error instanceof AdapterArchiveError) {
        throw failedPrecondition(`adapter ${adapterId}: archive ${adapterId}.tar is unusable: ${error.message}`);
      }
      if (error instanceof ConnectError) throw error;
      throw new ConnectError(
        `adapter ${adapterId}: could not unpack into ${dir}: ${(error as Error).message}`,
        Code.Internal,
      );
    } finally {
      if (partial) await rm(partial, { recursive: true, force: true });
    }
  }

  return {
    dir,
    materialize(adapterId) {
      let pending = inFlight.get(adapterId);
      if (!pending) {
        pending = unpack(adapterId).finally(() => inFlight.delete(adapterId));
        inFlight.set(adapterId, pending);
      }
      return pending;
    },
  };
}
