import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort } from "@ragtune/runtime";
import { type PublicHostDouble, startPublicHostDouble } from "../test/public-host-double.js";
import { downloadDataset } from "./download.js";
import { DatasetDownloadError } from "./errors.js";
import type { FileProgress } from "./resumable-fetch.js";
import { DATASET_SOURCES } from "./sources.js";

const body = Buffer.from(`${JSON.stringify({ question: "who wrote the first program", answer: ["Ada Lovelace"] })}\n`);
const sha = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
// Large enough to be cut midway: 300 kB that do not compress.
const big = randomBytes(300_000);

describe("downloadDataset", () => {
  let host: PublicHostDouble;
  let dir: string;
  let archive: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ragtune-download-"));
    const staging = join(dir, "staging");
    execFileSync("mkdir", ["-p", staging]);
    await writeFile(join(staging, "qasper-dev-v0.3.json"), "{}");
    execFileSync("tar", ["-czf", join(dir, "bundle.tgz"), "-C", staging, "qasper-dev-v0.3.json"]);
    archive = await readFile(join(dir, "bundle.tgz"));
    host = await startPublicHostDouble({ "NQ-open.dev.jsonl": body, "bundle.tgz": archive, "big.bin": big });
  });
  after(async () => {
    await host.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("fetches, verifies, records the digest, and serves the cache the next time", async () => {
    const cacheDir = join(dir, "cache1");
    const files = [{ name: "NQ-open.dev.jsonl", url: `${host.url}/NQ-open.dev.jsonl`, sha256: sha(body) }];
    const first = await downloadDataset({ dataset: "nq-open", cacheDir, files });
    assert.equal(first.files[0].origin, "network");
    assert.equal(first.files[0].sha256, sha(body));
    // NQ-open lands where the loaders and `ragtune run` read it: the nq/ folder.
    assert.equal(first.directory, join(cacheDir, "nq"));
    assert.equal(await readFile(first.files[0].path, "utf8"), body.toString());
    assert.match(
      await readFile(join(cacheDir, "nq", "SHA256SUMS"), "utf8"),
      new RegExp(`^${sha(body)}  NQ-open.dev.jsonl`),
    );
    const before = host.requests.length;
    const second = await downloadDataset({ dataset: "nq-open", cacheDir, files });
    assert.equal(second.files[0].origin, "cache");
    assert.equal(host.requests.length, before);
  });

  it("refuses a file whose digest differs from its pin and deletes what it fetched", async () => {
    const cacheDir = join(dir, "cache2");
    const files = [{ name: "NQ-open.dev.jsonl", url: `${host.url}/NQ-open.dev.jsonl`, sha256: "0".repeat(64) }];
    await assert.rejects(downloadDataset({ dataset: "nq-open", cacheDir, files }), (error: unknown) => {
      assert.ok(error instanceof DatasetDownloadError);
      assert.equal(error.reason, "checksum");
      assert.match(error.message, new RegExp(`refused .*sha256 ${sha(body)}.*expected 0000.*deleted`));
      return true;
    });
    assert.equal(existsSync(join(cacheDir, "nq", "NQ-open.dev.jsonl")), false);
    assert.equal(existsSync(join(cacheDir, "nq", "NQ-open.dev.jsonl.part")), false);
  });

  it("checks a mirror's files against the official pins", async () => {
    const cacheDir = join(dir, "cache-mirror");
    host.files.set("qasper-train-dev-v0.3.tgz", archive);
    const before = host.requests.length;
    await assert.rejects(
      downloadDataset({
        dataset: "qasper",
        cacheDir,
        mirror: `${host.url}/`,
        files: [DATASET_SOURCES.qasper.files[0]],
      }),
      /refused .*qasper-train-dev-v0\.3\.tgz: sha256 .*expected a28fdf96/,
    );
    assert.equal(host.requests[before].path, "/qasper-train-dev-v0.3.tgz");
  });

  it("unpacks archives", async () => {
    const cacheDir = join(dir, "cache3");
    const files = [{ name: "bundle.tgz", url: `${host.url}/bundle.tgz`, archive: true }];
    await downloadDataset({ dataset: "qasper", cacheDir, files });
    assert.equal(await readFile(join(cacheDir, "qasper", "qasper-dev-v0.3.json"), "utf8"), "{}");
  });

  it("resumes a broken transfer with a Range request on the next run, fetching only the rest", async () => {
    const cacheDir = join(dir, "cache-resume");
    const files = [{ name: "big.bin", url: `${host.url}/big.bin`, sha256: sha(big), bytes: big.length }];
    host.dropAfter.push(120_000);
    const first = host.requests.length;
    await assert.rejects(downloadDataset({ dataset: "nq-open", cacheDir, files, retries: 0 }), (error: unknown) => {
      assert.ok(error instanceof DatasetDownloadError);
      assert.equal(error.reason, "interrupted");
      assert.match(
        error.message,
        /broke off after \d+ of 300000 bytes.*big\.bin\.part is kept: run the same command again/,
      );
      return true;
    });
    const kept = (await stat(join(cacheDir, "nq", "big.bin.part"))).size;
    assert.equal(kept, 120_000);
    const progress: FileProgress[] = [];
    const result = await downloadDataset({ dataset: "nq-open", cacheDir, files, onProgress: (p) => progress.push(p) });
    assert.deepEqual(
      host.requests.slice(first).map((r) => [r.range, r.status]),
      [
        [undefined, 200],
        ["bytes=120000-", 206],
      ],
    );
    assert.equal(result.files[0].resumedFrom, 120_000);
    assert.equal(result.files[0].fetchedBytes, 180_000);
    assert.equal(host.requests.at(-1)!.bytesSent, 180_000);
    assert.ok((await readFile(join(cacheDir, "nq", "big.bin"))).equals(big));
    assert.equal(existsSync(join(cacheDir, "nq", "big.bin.part")), false);
    assert.deepEqual(progress[0], {
      name: "big.bin",
      received: 120_000,
      total: 300_000,
      resumedFrom: 120_000,
      done: false,
    });
    assert.deepEqual(progress.at(-1), {
      name: "big.bin",
      received: 300_000,
      total: 300_000,
      resumedFrom: 120_000,
      done: true,
    });
  });

  it("resumes within one run when the connection drops (retries)", async () => {
    const cacheDir = join(dir, "cache-retry");
    const files = [{ name: "big.bin", url: `${host.url}/big.bin`, sha256: sha(big), bytes: big.length }];
    host.dropAfter.push(50_000, 100_000);
    const first = host.requests.length;
    const lines: string[] = [];
    const result = await downloadDataset({ dataset: "nq-open", cacheDir, files, log: (l) => lines.push(l) });
    assert.deepEqual(
      host.requests.slice(first).map((r) => r.range),
      [undefined, "bytes=50000-", "bytes=150000-"],
    );
    assert.equal(result.files[0].sha256, sha(big));
    assert.equal(lines.filter((l) => /resuming \(try/.test(l)).length, 2);
  });

  it("says which host it could not reach and what to do, and explains HTTP errors", async () => {
    const port = await freePort();
    const cacheDir = join(dir, "cache4");
    const offline = [{ name: "x.jsonl", url: `http://127.0.0.1:${port}/x.jsonl` }];
    await assert.rejects(downloadDataset({ dataset: "nq-open", cacheDir, files: offline }), (error: unknown) => {
      assert.ok(error instanceof DatasetDownloadError);
      assert.equal(error.reason, "unreachable");
      assert.equal(error.message.split("\n").length, 1);
      assert.match(
        error.message,
        new RegExp(
          `cannot reach 127\\.0\\.0\\.1:${port} for http://127\\.0\\.0\\.1:${port}/x\\.jsonl \\(ECONNREFUSED\\).*--from PATH`,
        ),
      );
      return true;
    });
    const missing = [{ name: "x.jsonl", url: `${host.url}/missing.jsonl` }];
    await assert.rejects(downloadDataset({ dataset: "nq-open", cacheDir, files: missing }), /HTTP 404/);
  });

  it("explains BioASQ's registration instead of fetching", async () => {
    await assert.rejects(downloadDataset({ dataset: "bioasq", cacheDir: join(dir, "cache6") }), (error: unknown) => {
      assert.ok(error instanceof DatasetDownloadError);
      assert.equal(error.reason, "manual");
      assert.match(error.message, /participants-area\.bioasq\.org.*--from PATH/);
      return true;
    });
  });

  it("copies a local file or folder with --from, checks pinned names and unpacks archives", async () => {
    const cacheDir = join(dir, "cache5");
    const local = join(dir, "local.jsonl");
    await writeFile(local, body);
    const result = await downloadDataset({ dataset: "nq-open", cacheDir, from: local });
    assert.deepEqual(
      result.files.map((f) => [f.origin, f.sha256]),
      [["local", sha(body)]],
    );
    await assert.rejects(downloadDataset({ dataset: "nq-open", cacheDir, from: join(dir, "nope") }), /does not exist/);
    const fakeRelease = join(dir, "qasper-train-dev-v0.3.tgz");
    await writeFile(fakeRelease, archive);
    await assert.rejects(
      downloadDataset({ dataset: "qasper", cacheDir, from: fakeRelease }),
      /refused .*qasper-train-dev-v0\.3\.tgz: sha256 .*expected a28fdf96/,
    );
    const pinned = [
      { name: "qasper-train-dev-v0.3.tgz", url: "https://example.invalid/x.tgz", sha256: sha(archive), archive: true },
    ];
    await downloadDataset({ dataset: "qasper", cacheDir, from: fakeRelease, files: pinned });
    assert.equal(await readFile(join(cacheDir, "qasper", "qasper-dev-v0.3.json"), "utf8"), "{}");
  });
});
