/**
 * Adapters travel as one POSIX ustar archive of their directory (adapter_config.json, weights, metadata), so a
 * single object with one checksum holds everything and `tar -x` unpacks it anywhere.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";

const BLOCK = 512;

function header(name: string, size: number, mtimeSeconds: number): Uint8Array {
  if (Buffer.byteLength(name) > 100) throw new Error(`path too long for a ustar archive: ${name}`);
  const block = Buffer.alloc(BLOCK);
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, "0");
  block.write(name, 0, "utf8");
  block.write(octal(0o644, 8), 100);
  block.write(octal(0, 8), 108);
  block.write(octal(0, 8), 116);
  block.write(octal(size, 12), 124);
  block.write(octal(mtimeSeconds, 12), 136);
  block.fill(" ", 148, 156);
  block.write("0", 156);
  block.write("ustar\u000000", 257, "latin1");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${octal(sum, 7)}\u0000`, 148, "latin1");
  return block;
}

async function listFiles(dir: string, root = dir): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path, root)));
    else if (entry.isFile()) files.push(relative(root, path));
  }
  return files;
}

/** Archives every regular file under `dir`, in name order, with a fixed mtime so equal content gives equal bytes. */
export async function archiveDirectory(dir: string, mtimeSeconds = 0): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (const file of await listFiles(dir)) {
    const data = await readFile(join(dir, file));
    chunks.push(header(file.split("\\").join("/"), data.length, mtimeSeconds), data);
    const padding = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (padding) chunks.push(new Uint8Array(padding));
  }
  chunks.push(new Uint8Array(2 * BLOCK));
  return Buffer.concat(chunks);
}

/** Bytes of every file archiveDirectory would pack (what an adapter weighs on disk). */
export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const file of await listFiles(dir)) total += (await stat(join(dir, file))).size;
  return total;
}
