import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort } from "@ragtune/runtime";
import { downloadDataset } from "./download.js";
import { DatasetDownloadError } from "./errors.js";

const body = `${JSON.stringify({ question: "who wrote the first computer program", answer: ["Ada Lovelace"] })}\n`;
const sha = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

describe("downloadDataset", () => {
  let server: Server;
  let base: string;
  let dir: string;
  let requests = 0;
  let archive: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ragtune-download-"));
    const staging = join(dir, "staging");
    execFileSync("mkdir", ["-p", staging]);
    await writeFile(join(staging, "qasper-dev-v0.3.json"), "{}");
    execFileSync("tar", ["-czf", join(dir, "bundle.tgz"), "-C", staging, "qasper-dev-v0.3.json"]);
    archive = await readFile(join(dir, "bundle.tgz"));
    server = createServer((req, res) => {
      requests++;
      if (req.url === "/NQ-open.dev.jsonl") res.writeHead(200).end(body);
      else if (req.url === "/bundle.tgz") res.writeHead(200).end(archive);
      else res.writeHead(404).end("not here");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it("fetches, verifies, records the digest, and serves the cache the next time", async () => {
    const cacheDir = join(dir, "cache1");
    const files = [{ name: "NQ-open.dev.jsonl", url: `${base}/NQ-open.dev.jsonl`, sha256: sha(body) }];
    const first = await downloadDataset({ dataset: "nq-open", cacheDir, files });
    assert.equal(first.files[0].origin, "network");
    assert.equal(first.files[0].sha256, sha(body));
    assert.equal(await readFile(first.files[0].path, "utf8"), body);
    assert.match(
      await readFile(join(cacheDir, "nq-open", "SHA256SUMS"), "utf8"),
      new RegExp(`^${sha(body)}  NQ-open.dev.jsonl`),
    );
    const before = requests;
    const second = await downloadDataset({ dataset: "nq-open", cacheDir, files });
    assert.equal(second.files[0].origin, "cache");
    assert.equal(requests, before);
  });

  it("refuses a file whose digest differs and leaves nothing behind", async () => {
    const cacheDir = join(dir, "cache2");
    const files = [{ name: "NQ-open.dev.jsonl", url: `${base}/NQ-open.dev.jsonl`, sha256: "0".repeat(64) }];
    await assert.rejects(downloadDataset({ dataset: "nq-open", cacheDir, files }), /expected 0000/);
    await assert.rejects(readFile(join(cacheDir, "nq-open", "NQ-open.dev.jsonl")));
  });

  it("unpacks archives", async () => {
    const cacheDir = join(dir, "cache3");
    const files = [{ name: "bundle.tgz", url: `${base}/bundle.tgz`, archive: true }];
    await downloadDataset({ dataset: "qasper", cacheDir, files });
    assert.equal(await readFile(join(cacheDir, "qasper", "qasper-dev-v0.3.json"), "utf8"), "{}");
  });

  it("fails cleanly, saying what to do, when the host cannot be reached or answers an error", async () => {
    const port = await freePort();
    const cacheDir = join(dir, "cache4");
    const offline = [{ name: "x.jsonl", url: `http://127.0.0.1:${port}/x.jsonl` }];
    await assert.rejects(downloadDataset({ dataset: "nq-open", cacheDir, files: offline }), (error: unknown) => {
      assert.ok(error instanceof DatasetDownloadError);
      assert.match(error.message, /cannot reach .*--from PATH/);
      return true;
    });
    const missing = [{ name: "x.jsonl", url: `${base}/missing.jsonl` }];
    await assert.rejects(downloadDataset({ dataset: "nq-open", cacheDir, files: missing }), /HTTP 404/);
    await assert.rejects(downloadDataset({ dataset: "bioasq", cacheDir }), /BioASQ account.*--from PATH/);
  });

  it("copies a local file or folder with --from and records its digest", async () => {
    const cacheDir = join(dir, "cache5");
    const local = join(dir, "local.jsonl");
    await writeFile(local, body);
    const result = await downloadDataset({ dataset: "nq-open", cacheDir, from: local });
    assert.deepEqual(
      result.files.map((f) => [f.origin, f.sha256]),
      [["local", sha(body)]],
    );
    await assert.rejects(downloadDataset({ dataset: "nq-open", cacheDir, from: join(dir, "nope") }), /does not exist/);
  });
});
