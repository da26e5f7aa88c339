/**
 * Reading files a remote caller named, safely: only inside configured roots (after following links), only regular
 * files (a FIFO or /dev/zero never ends), never more than a byte limit, never longer than a deadline. Errors say
 * which rule refused the path and never quote the file's content.
 */
import { constants } from "node:fs";
import { open, realpath } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";

/** A path a caller may not read, or cannot be read within the limits: the caller's error, never retried. */
export class FileAccessError extends Error {
  override name = "FileAccessError";
}

/** The real path of `path` when it lies inside one of `roots` (both with links followed); undefined otherwise. */
export async function resolveUnderRoots(path: string, roots: readonly string[]): Promise<string | undefined> {
  if (!isAbsolute(path)) return undefined;
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    // A missing path is inside a root only if its lexical form is; the read that follows reports it as missing.
    real = resolve(path);
  }
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => resolve(root));
    const rel = relative(realRoot, real);
    if (rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel))) return real;
  }
  return undefined;
}

export interface BoundedReadOptions {
  maxBytes: number;
  timeoutMs: number;
  /** What the file is, for messages ("manifest", "dataset file"). */
  what: string;
}

/**
 * The bytes of a regular file of at most maxBytes, read within timeoutMs. Opened non-blocking, so naming a FIFO
 * does not hang the open; the type and size are taken from the open handle, so a swap after a check cannot slip by.
 */
export async function readBoundedFile(path: string, label: string, options: BoundedReadOptions): Promise<Uint8Array> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const timer = new AbortController();
  const deadline = setTimeout(() => timer.abort(), options.timeoutMs);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new FileAccessError(`${label}: not a regular file`);
    if (info.size > options.maxBytes) {
      throw new FileAccessError(
        `${label}: ${info.size} bytes, more than the ${options.what} limit of ${options.maxBytes}`,
      );
    }
    const buffer = Buffer.alloc(info.size);
    let filled = 0;
    while (filled < buffer.length) {
      if (timer.signal.aborted) throw new FileAccessError(`${label}: not read within ${options.timeoutMs} ms`);
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    clearTimeout(deadline);
    await handle.close();
  }
}

/** Rejects with FileAccessError when `work` has not settled within timeoutMs. */
export async function withDeadline<T>(work: Promise<T>, timeoutMs: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FileAccessError(`${label}: no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
