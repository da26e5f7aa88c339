/**
 * One file over HTTP into `<target>.part`, resumed with a Range request when a .part is already there, hashed as it
 * streams and renamed to `target` only when its sha256 (and size) match the pin. A transfer that breaks off keeps
 * the .part for the next try; bytes that do not match are deleted, never kept under the real name.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import { DatasetDownloadError } from "./errors.js";
import type { RemoteFile } from "./sources.js";

export interface FileProgress {
  name: string;
  /** Bytes in the .part so far (resumed bytes included). */
  received: number;
  /** Expected size; undefined when neither the pin nor the server says. */
  total?: number;
  /** Bytes that were already in the .part when this transfer started. */
  resumedFrom: number;
  done: boolean;
}

export interface FetchedFile {
  sha256: string;
  bytes: number;
  /** Bytes that came over the wire in this call (less than `bytes` after a resume). */
  fetchedBytes: number;
  resumedFrom: number;
}

export interface ResumableFetchOptions {
  /** Who asks, for messages (e.g. "qasper"). */
  label: string;
  /** What to tell a person whose network fails. */
  hint: string;
  /** Without a byte for this long, the transfer counts as broken off. */
  timeoutMs: number;
  onProgress?: (progress: FileProgress) => void;
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

async function hashInto(hash: Hash, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

function causeOf(error: unknown): string {
  const e = error as Error & { code?: string };
  return e.code ?? e.message;
}

/** GET with node:http(s), following redirects: every byte that arrives is handed over, even when the link then breaks. */
function get(url: string, headers: Record<string, string>, timeoutMs: number, redirects = 5): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith("https:") ? httpsGet : httpGet)(url, { headers, timeout: timeoutMs }, (res) => {
      const location = res.headers.location;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location && redirects > 0) {
        res.resume();
        get(new URL(location, url).toString(), headers, timeoutMs, redirects - 1).then(resolve, reject);
      } else resolve(res);
    });
    request.on("timeout", () => request.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
    request.on("error", reject);
  });
}

/** The start of a 206's `Content-Range: bytes <start>-<end>/<size>`. */
function rangeStart(res: IncomingMessage): number | undefined {
  const match = /^bytes (\d+)-/.exec(res.headers["content-range"] ?? "");
  return match ? Number(match[1]) : undefined;
}

/** Streams the body into the .part; resolves when it all came, rejects (after flushing what came) when it broke. */
function receive(res: IncomingMessage, part: string, append: boolean, onChunk: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(part, { flags: append ? "a" : "w" });
    let failure: Error | undefined;
    // Never paused: a paused response that breaks off drops what it buffered, and the disk outpaces the network.
    res.on("data", (chunk: Buffer) => {
      onChunk(chunk);
      out.write(chunk);
    });
    res.on("error", (error) => {
      failure ??= error;
    });
    res.on("close", () => {
      if (!res.complete) failure ??= Object.assign(new Error("connection closed mid-transfer"), { code: "ECONNRESET" });
      out.end();
    });
    out.on("error", (error) => {
      failure ??= error;
    });
    out.on("close", () => (failure ? reject(failure) : resolve()));
  });
}

export async function fetchResumable(
  file: RemoteFile,
  target: string,
  options: ResumableFetchOptions,
): Promise<FetchedFile> {
  const part = `${target}.part`;
  let resumedFrom = await sizeOf(part);
  // A .part longer than the pinned size is not a prefix of this file.
  if (file.bytes !== undefined && resumedFrom > file.bytes) {
    await rm(part, { force: true });
    resumedFrom = 0;
  }
  let res: IncomingMessage;
  try {
    res = await get(file.url, resumedFrom > 0 ? { range: `bytes=${resumedFrom}-` } : {}, options.timeoutMs);
  } catch (error) {
    const host = URL.canParse(file.url) ? new URL(file.url).host : file.url;
    throw new DatasetDownloadError(
      `${options.label}: cannot reach ${host} for ${file.url} (${causeOf(error)}): offline or host unreachable; ${options.hint}`,
      { cause: error, reason: "unreachable" },
    );
  }
  const status = res.statusCode ?? 0;
  if (status === 416 && resumedFrom > 0) {
    // The .part already holds every byte the server has: verify it as it is.
    res.resume();
    return finish(file, part, target, options, { fetchedBytes: 0, resumedFrom });
  }
  if (status < 200 || status >= 300) {
    res.resume();
    throw new DatasetDownloadError(`${options.label}: ${file.url} answered HTTP ${status}; ${options.hint}`, {
      reason: "http",
    });
  }
  if (!(status === 206 && rangeStart(res) === resumedFrom)) resumedFrom = 0; // the whole file came: start over
  const length = Number(res.headers["content-length"] ?? Number.NaN);
  const total = file.bytes ?? (Number.isFinite(length) ? resumedFrom + length : undefined);
  const hash = createHash("sha256");
  if (resumedFrom > 0) await hashInto(hash, part);
  let received = resumedFrom;
  const report = (done: boolean) => options.onProgress?.({ name: file.name, received, total, resumedFrom, done });
  report(false);
  try {
    await receive(res, part, resumedFrom > 0, (chunk) => {
      hash.update(chunk);
      received += chunk.length;
      report(false);
    });
  } catch (error) {
    throw new DatasetDownloadError(
      `${options.label}: download of ${file.url} broke off after ${received} of ${total ?? "?"} bytes (${causeOf(error)}); ` +
        `${part} is kept: run the same command again to resume`,
      { cause: error, reason: "interrupted" },
    );
  }
  report(true);
  return finish(file, part, target, options, {
    fetchedBytes: received - resumedFrom,
    resumedFrom,
    digest: hash.digest("hex"),
  });
}

async function finish(
  file: RemoteFile,
  part: string,
  target: string,
  options: ResumableFetchOptions,
  got: { fetchedBytes: number; resumedFrom: number; digest?: string },
): Promise<FetchedFile> {
  let sha256 = got.digest;
  if (!sha256) {
    const hash = createHash("sha256");
    await hashInto(hash, part);
    sha256 = hash.digest("hex");
  }
  const bytes = await sizeOf(part);
  if ((file.sha256 && sha256 !== file.sha256) || (file.bytes !== undefined && bytes !== file.bytes)) {
    await rm(part, { force: true });
    throw new DatasetDownloadError(
      `${options.label}: refused ${file.url}: sha256 ${sha256} (${bytes} bytes), expected ${file.sha256 ?? "any"}` +
        `${file.bytes !== undefined ? ` (${file.bytes} bytes)` : ""}; the downloaded bytes were deleted`,
      { reason: "checksum" },
    );
  }
  await rename(part, target);
  return { sha256, bytes, fetchedBytes: got.fetchedBytes, resumedFrom: got.resumedFrom };
}
