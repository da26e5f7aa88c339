/**
 * `ragtune datasets download` as a user runs it, against a TEST DOUBLE of the public hosts (a local HTTP server;
 * no network here) serving archives built in the datasets' real formats: the files land where `ragtune run`
 * reads them, pins are checked, a broken transfer resumes, an unreachable host and BioASQ say what to do.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { loadDataset } from "@ragtune/datasets";
import { type PublicHostDouble, startPublicHostDouble } from "@ragtune/datasets/public-host-double";
import { renderDemoCorpus } from "@ragtune/demo-corpus";
import { freePort } from "@ragtune/runtime";
import { datasetsCommand } from "./datasets-command.js";
import { resolveDataSource } from "./data-source.js";
import { createDownloadProgress } from "./download-progress.js";

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

function capture(isTTY = false) {
  let text = "";
  return {
    stream: { write: (s: string) => (text += s), isTTY },
    text: () => text,
  };
}

async function run(argv: string[]) {
  const out = capture();
  const err = capture();
  const code = await datasetsCommand(argv, { out: out.stream, err: err.stream });
  return { code, out: out.text(), err: err.text() };
}

/** A .tgz of the given files, as AllenAI's release archives are laid out. */
function tgz(dir: string, name: string, files: Record<string, Buffer | string>): Buffer {
  const staging = join(dir, `${name}-staging`);
  mkdirSync(staging, { recursive: true });
  for (const [file, bytes] of Object.entries(files)) writeFileSync(join(staging, file), bytes);
  execFileSync("tar", ["-czf", join(dir, name), "-C", staging, ...Object.keys(files)]);
  return readFileSync(join(dir, name));
}

describe("ragtune datasets download", () => {
  let dir: string;
  let host: PublicHostDouble;
  let sourcesFile: string;
  const demo = renderDemoCorpus(0);
  const saved = { ...process.env };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "datasets-download-"));
    for (const key of ["RAGTUNE_DATASETS_DIR", "RAGTUNE_DATASETS_MIRROR", "RAGTUNE_DATASETS_SOURCES"])
      delete process.env[key];
    const qasper = demo.get("qasper/qasper-demo-v0.3.json")!;
    const files: Record<string, Buffer> = {
      "qasper-train-dev-v0.3.tgz": tgz(dir, "qasper-train-dev-v0.3.tgz", {
        "qasper-train-v0.3.json": "{}",
        "qasper-dev-v0.3.json": qasper,
        "README.md": "Qasper v0.3\n",
      }),
      "qasper-test-and-evaluator-v0.3.tgz": tgz(dir, "qasper-test-and-evaluator-v0.3.tgz", {
        "qasper-test-v0.3.json": "{}",
        "qasper_evaluator.py": "# evaluator\n",
      }),
      "NQ-open.dev.jsonl": demo.get("nq/NQ-open.dev.jsonl")!,
      "nq-open-oracle.jsonl.gz": demo.get("nq/nq-open-oracle.jsonl.gz")!,
    };
    host = await startPublicHostDouble(files);
    // What a mirror with its own pins would publish: the double's files, pinned by digest and size.
    const pinned = (name: string, archive = false) => ({
      name,
      url: `${host.url}/${name}`,
      sha256: sha(files[name]),
      bytes: files[name].length,
      archive,
    });
    sourcesFile = join(dir, "sources.json");
    await writeFile(
      sourcesFile,
      JSON.stringify({
        qasper: [pinned("qasper-train-dev-v0.3.tgz", true), pinned("qasper-test-and-evaluator-v0.3.tgz", true)],
        "nq-open": [pinned("NQ-open.dev.jsonl"), pinned("nq-open-oracle.jsonl.gz")],
      }),
    );
  });
  after(async () => {
    process.env = saved;
    await host.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("fetches Qasper's archives, verifies and unpacks them where the loader and `ragtune run` read them", async () => {
    const data = join(dir, "data1");
    const { code, out, err } = await run(["download", "qasper", "--data", data, "--sources", sourcesFile]);
    assert.equal(code, 0, err);
    assert.match(err, /qasper-train-dev-v0\.3\.tgz: .* 100% .* done/);
    assert.ok(existsSync(join(data, "qasper", "qasper-dev-v0.3.json")));
    assert.ok(existsSync(join(data, "qasper", "qasper_evaluator.py")));
    const loaded = await loadDataset("qasper", join(data, "qasper"));
    assert.ok(loaded.items.length > 1000, `${loaded.items.length} questions`);
    assert.match(out, new RegExp(`qasper: ${loaded.items.length.toLocaleString("en-US")} questions`));
    // `ragtune run --data DIR` (or RAGTUNE_DATASETS_DIR=DIR) finds it there.
    assert.equal((await resolveDataSource({ data, datasets: ["qasper"], stateDir: join(dir, "state") })).dir, data);
    const again = await run(["download", "qasper", "--data", data, "--sources", sourcesFile]);
    assert.match(again.out, /\(cache\)/);
  });

  it("resumes NQ-open after the connection drops midway, fetching only the rest, and the loader reads it", async () => {
    process.env.RAGTUNE_DATASETS_DIR = join(dir, "data2");
    const size = host.files.get("NQ-open.dev.jsonl")!.length;
    const cut = Math.floor(size / 3);
    host.dropAfter.push(cut);
    const first = host.requests.length;
    const broken = await run(["download", "nq-open", "--sources", sourcesFile, "--retries", "0"]);
    assert.equal(broken.code, 1);
    assert.match(
      broken.err,
      new RegExp(`broke off after ${cut} of ${size} bytes.*run the same command again to resume`),
    );
    const resumed = await run(["download", "nq-open", "--sources", sourcesFile]);
    assert.equal(resumed.code, 0, resumed.err);
    assert.deepEqual(
      host.requests.slice(first).map((r) => [r.path, r.range ?? "", r.bytesSent]),
      [
        ["/NQ-open.dev.jsonl", "", cut],
        ["/NQ-open.dev.jsonl", `bytes=${cut}-`, size - cut],
        ["/nq-open-oracle.jsonl.gz", "", host.files.get("nq-open-oracle.jsonl.gz")!.length],
      ],
    );
    assert.match(
      resumed.out,
      new RegExp(`NQ-open\\.dev\\.jsonl  \\(fetched ${size - cut} bytes, resumed after ${cut}\\)`),
    );
    const folder = join(dir, "data2", "nq");
    const loaded = await loadDataset("nq-open", folder);
    assert.equal(loaded.items.length, 1400);
    assert.ok(loaded.items.every((i) => i.evidenceDocumentIds.length > 0));
    assert.match(resumed.out, /nq-open: 1,400 questions \(1,400 with gold evidence\)/);
    delete process.env.RAGTUNE_DATASETS_DIR;
  });

  it("refuses bytes that do not match the official pins and keeps nothing", async () => {
    const data = join(dir, "data3");
    // The double serves other bytes under the official names: a mirror gone wrong.
    const { code, err } = await run(["download", "qasper", "--data", data, "--mirror", host.url]);
    assert.equal(code, 1);
    assert.match(err, /refused .*qasper-train-dev-v0\.3\.tgz: sha256 [0-9a-f]{64} .*expected a28fdf96.*deleted/);
    assert.deepEqual(
      readdirSync(join(data, "qasper")).filter((f) => f !== "SHA256SUMS"),
      [],
    );
  });

  it("says in one line which host it could not reach and what to do, with exit code 3", async () => {
    const port = await freePort();
    const { code, err } = await run([
      "download",
      "nq-open",
      "--data",
      join(dir, "data4"),
      "--mirror",
      `http://127.0.0.1:${port}`,
    ]);
    assert.equal(code, 3);
    const lines = err.trim().split("\n");
    assert.match(
      lines.at(-1)!,
      new RegExp(
        `^ragtune datasets download: nq-open: cannot reach 127\\.0\\.0\\.1:${port} for http://127\\.0\\.0\\.1:${port}/NQ-open\\.dev\\.jsonl .*offline.*--from PATH`,
      ),
    );
  });

  it("explains BioASQ's registration, and takes --from PATH", async () => {
    const data = join(dir, "data5");
    const refused = await run(["download", "bioasq", "--data", data]);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /participants-area\.bioasq\.org.*--from PATH/);
    const fixtures = resolve(
      dirname(fileURLToPath(import.meta.url)),
      "../../../packages/datasets/test/fixtures/datasets/bioasq",
    );
    const copied = await run(["download", "bioasq", "--data", data, "--from", fixtures]);
    assert.equal(copied.code, 0, copied.err);
    assert.match(copied.out, /bioasq: 4 questions/);
  });

  it("draws a bar with bytes, rate and ETA on a terminal", () => {
    const term = capture(true);
    let t = 0;
    const progress = createDownloadProgress(term.stream, { now: () => t });
    progress.update({ name: "x.tgz", received: 0, total: 10_000_000, resumedFrom: 0, done: false });
    t = 2000;
    progress.update({ name: "x.tgz", received: 4_000_000, total: 10_000_000, resumedFrom: 0, done: false });
    t = 5000;
    progress.update({ name: "x.tgz", received: 10_000_000, total: 10_000_000, resumedFrom: 0, done: true });
    const frames = term.text().split("\r\x1b[2K").filter(Boolean);
    assert.equal(frames[1], "x.tgz [########............] 4.0 MB/10.0 MB 40%  2.0 MB/s  ETA 3s");
    assert.equal(frames[2], "x.tgz [####################] 10.0 MB/10.0 MB 100%  2.0 MB/s  done\n");
  });
});
