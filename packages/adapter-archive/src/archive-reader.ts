/** Reads POSIX ustar archives, the form adapters travel in (archive-writer.ts writes them). */

/** An archive that cannot be read as ustar, or holds what an adapter must not (links, unsafe paths). */
export class AdapterArchiveError extends Error {
  override name = "AdapterArchiveError";
}

export interface UstarEntry {
  /** Path as stored (prefix field joined), e.g. "adapter_config.json" or "./adapter_config.json". */
  name: string;
  /** The typeflag: "0" (or "") regular file, "5" directory, "2" symlink, "1" hard link, ... */
  type: string;
  data: Uint8Array;
}

const BLOCK = 512;

/**
 * Every entry of a ustar archive, in order. Each header's checksum is checked, no entry may run past the end and
 * the end-of-archive block must be there, so a truncated or garbled archive throws AdapterArchiveError instead of
 * yielding garbage.
 */
export function* ustarEntries(archive: Uint8Array): Generator<UstarEntry> {
  const buffer = Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength);
  let offset = 0;
  while (offset + BLOCK <= buffer.length) {
    const header = buffer.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return;
    const field = (start: number, length: number) =>
      header.toString("latin1", start, start + length).replace(/\0.*$/s, "");
    const stored = Number.parseInt(field(148, 8).trim(), 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
    if (stored !== sum) throw new AdapterArchiveError(`not a tar archive: bad header checksum at byte ${offset}`);
    const prefix = field(345, 155);
    const name = Buffer.from(prefix ? `${prefix}/${field(0, 100)}` : field(0, 100), "latin1").toString("utf8");
    const sizeField = field(124, 12).trim() || "0";
    const size = /^[0-7]+$/.test(sizeField) ? Number.parseInt(sizeField, 8) : Number.NaN;
    const start = offset + BLOCK;
    if (!Number.isSafeInteger(size) || start + size > buffer.length) {
      throw new AdapterArchiveError(`truncated tar archive: entry ${name} runs past the end`);
    }
    yield { name, type: field(156, 1), data: buffer.subarray(start, start + size) };
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  // Every tar writer ends with zero blocks; without one, the archive was cut short at a block boundary.
  throw new AdapterArchiveError("truncated tar archive: no end-of-archive block");
}

export const isRegularFile = (entry: UstarEntry) => entry.type === "0" || entry.type === "" || entry.type === "7";

/** One regular file out of a ustar archive, by path ("./" prefixes ignored). */
export function readUstarEntry(archive: Uint8Array, wanted: string): Uint8Array | undefined {
  for (const entry of ustarEntries(archive)) {
    if (isRegularFile(entry) && entry.name.replace(/^\.\//, "") === wanted) return entry.data;
  }
  return undefined;
}

/** Every regular file of an archive: path ("./" prefix dropped) → content. */
export function readArchive(archive: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const entry of ustarEntries(archive)) {
    if (isRegularFile(entry)) files.set(entry.name.replace(/^\.\//, ""), entry.data);
  }
  return files;
}
