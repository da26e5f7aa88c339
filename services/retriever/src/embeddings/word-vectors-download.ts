import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { EmbeddingError } from "./embedder.js";

/** The word vectors could not be fetched (offline, refused, corrupt): dense search cannot start. */
export class WordVectorsDownloadError extends EmbeddingError {
  override name = "WordVectorsDownloadError";
}

export interface VerifiedDownloadOptions {
  url: string;
  /** Subresource-integrity string, as npm records it: "sha512-<base64>". */
  integrity: string;
  /** Final path; written only once the bytes match `integrity`. */
  destination: string;
  fetch?: typeof fetch;
  /** Called after the file is in place, with the bytes fetched by this call (0 when it was there already). */
  onDownloaded?: (info: { bytesFetched: number; resumedFrom: number }) => void;
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

async function sizeOf(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

function parseIntegrity(integrity: string): { algorithm: string; digest: string } {
  const match = /^(sha256|sha384|sha512)-([A-Za-z0-9+/=]+)$/.exec(integrity.trim());
  if (!match) throw new WordVectorsDownloadError(`integrity "${integrity}" is not "sha512-<base64>"`);
  return { algorithm: match[1], digest: match[2] };
}

async function digestOf(path: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest("base64");
}

const inFlight = new Map<string, Promise<void>>();

/**
 * Makes `destination` hold the file at `url`, checked against `integrity`. The bytes go to `<destination>.partial`
 * first; an interrupted download is resumed from there with an HTTP Range request; only a file whose digest matches
 * is renamed into place (a rename is atomic), and one that does not match is deleted. A file already at
 * `destination` is used as it is: nothing else writes there. Concurrent calls in one process share one download.
 */
export function downloadVerified(options: VerifiedDownloadOptions): Promise<void> {
  const running = inFlight.get(options.destination);
  if (running) return running;
  const download = fetchVerified(options).finally(() => inFlight.delete(options.destination));
  inFlight.set(options.destination, download);
  return download;
}

async function fetchVerified(options: VerifiedDownloadOptions): Promise<void> {
  const { url, destination } = options;
  if (await exists(destination)) return;
  const { algorithm, digest } = parseIntegrity(options.integrity);
  await mkdir(dirname(destination), { recursive: true });
  const partial = `${destination}.partial`;
  const resumedFrom = await sizeOf(partial);
  const manualStep = `fetch it where there is network and put it at ${destination}`;

  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, {
      headers: resumedFrom > 0 ? { range: `bytes=${resumedFrom}-` } : {},
    });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
    throw new WordVectorsDownloadError(`cannot download ${url} (${cause}); offline? ${manualStep}`, { cause: error });
  }
  let bytesFetched = 0;
  // 416: the partial file already holds every byte (a previous run died between download and rename).
  if (response.status !== 416) {
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel();
      throw new WordVectorsDownloadError(`download of ${url} answered HTTP ${response.status}; ${manualStep}`);
    }
    if (!response.body) throw new WordVectorsDownloadError(`download of ${url} answered no body`);
    // A server that ignores Range answers 200 with the whole file: start over rather than append it.
    const append = response.status === 206 && resumedFrom > 0;
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    body.on("data", (chunk: Buffer) => {
      bytesFetched += chunk.length;
    });
    try {
      await pipeline(body, createWriteStream(partial, { flags: append ? "a" : "w" }));
    } catch (error) {
      throw new WordVectorsDownloadError(
        `download of ${url} broke off after ${resumedFrom + bytesFetched} bytes (${(error as Error).message}); ` +
          "the next attempt resumes it",
        { cause: error },
      );
    }
  }
  const actual = await digestOf(partial, algorithm);
  if (actual !== digest) {
    await unlink(partial).catch(() => {});
    throw new WordVectorsDownloadError(
      `download of ${url} failed its integrity check (expected ${algorithm}-${digest}, got ${algorithm}-${actual}); ` +
        "the file was deleted",
    );
  }
  await rename(partial, destination);
  options.onDownloaded?.({ bytesFetched, resumedFrom });
}
