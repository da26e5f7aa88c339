/**
 * One file's bytes out of a (decompressed) tar stream, without holding the archive in memory: the word-vector
 * package unpacks to ~300 MB of JSON, which is parsed as it streams by.
 */

const BLOCK = 512;

/** The archive is not a tar stream, or was cut short. */
export class TarFormatError extends Error {
  override name = "TarFormatError";
}

interface Header {
  name: string;
  type: string;
  size: number;
}

function parseHeader(block: Buffer, offset: number): Header | undefined {
  if (block.every((b) => b === 0)) return undefined;
  const field = (start: number, length: number) => {
    const raw = block.subarray(start, start + length);
    const end = raw.indexOf(0);
    return raw.subarray(0, end < 0 ? length : end).toString("utf8");
  };
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  if (Number.parseInt(field(148, 8).trim(), 8) !== sum) {
    throw new TarFormatError(`not a tar archive: bad header checksum at byte ${offset}`);
  }
  const sizeField = field(124, 12).trim() || "0";
  const size = /^[0-7]+$/.test(sizeField) ? Number.parseInt(sizeField, 8) : Number.NaN;
  if (!Number.isSafeInteger(size)) throw new TarFormatError(`tar header at byte ${offset}: bad size "${sizeField}"`);
  const prefix = field(345, 155);
  const name = field(0, 100);
  return { name: prefix ? `${prefix}/${name}` : name, type: field(156, 1), size };
}

/** `path` from a pax extended header ("<length> path=<value>\n" records), which overrides the next entry's name. */
function paxPath(data: Buffer): string | undefined {
  for (const record of data.toString("utf8").split("\n")) {
    const match = /^\d+ path=(.*)$/s.exec(record);
    if (match) return match[1];
  }
  return undefined;
}

/** Reads exactly `length` bytes at a time out of a chunked stream, or hands body bytes through as they come. */
class ByteCursor {
  private buffered: Buffer[] = [];
  private bufferedLength = 0;
  private offset = 0;
  private readonly iterator: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  get position(): number {
    return this.offset;
  }

  private async fill(length: number): Promise<boolean> {
    while (this.bufferedLength < length) {
      const next = await this.iterator.next();
      if (next.done) return false;
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      this.buffered.push(chunk);
      this.bufferedLength += chunk.length;
    }
    return true;
  }

  /** Exactly `length` bytes, or undefined at the end of the stream. */
  async read(length: number): Promise<Buffer | undefined> {
    if (!(await this.fill(length))) return undefined;
    const all = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered);
    const out = all.subarray(0, length);
    const rest = all.subarray(length);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.bufferedLength = rest.length;
    this.offset += length;
    return out;
  }

  /** The next `length` bytes, as chunks as large as the source gives them. */
  async *stream(length: number): AsyncGenerator<Buffer> {
    let left = length;
    while (left > 0) {
      if (this.bufferedLength === 0 && !(await this.fill(1))) {
        throw new TarFormatError(`truncated tar archive: ${left} bytes missing at byte ${this.offset}`);
      }
      const head = this.buffered[0];
      const take = Math.min(left, head.length);
      if (take === head.length) this.buffered.shift();
      else this.buffered[0] = head.subarray(take);
      this.bufferedLength -= take;
      this.offset += take;
      left -= take;
      yield head.subarray(0, take);
    }
  }

  async skip(length: number): Promise<void> {
    for await (const _ of this.stream(length));
  }
}

/**
 * Streams the body of the first regular file whose path (ustar name and prefix, or a pax `path`) is `wanted`.
 * Throws TarFormatError when the archive is garbled, truncated, or has no such file.
 */
export async function* tarEntry(source: AsyncIterable<Uint8Array>, wanted: string): AsyncGenerator<Buffer> {
  const cursor = new ByteCursor(source);
  let overrideName: string | undefined;
  for (;;) {
    const at = cursor.position;
    const block = await cursor.read(BLOCK);
    if (!block) throw new TarFormatError("truncated tar archive: no end-of-archive block");
    const header = parseHeader(block, at);
    if (!header) break;
    const padded = Math.ceil(header.size / BLOCK) * BLOCK;
    if (header.type === "x") {
      const data = await cursor.read(padded);
      if (!data) throw new TarFormatError("truncated tar archive: pax header cut short");
      overrideName = paxPath(data.subarray(0, header.size));
      continue;
    }
    const name = overrideName ?? header.name;
    overrideName = undefined;
    if ((header.type === "0" || header.type === "") && name.replace(/^\.\//, "") === wanted) {
      yield* cursor.stream(header.size);
      return;
    }
    await cursor.skip(padded);
  }
  throw new TarFormatError(`the archive has no file ${wanted}`);
}
