/** Unpacking the trainer's adapter archives into a folder vLLM reads: once, atomically, and never outside it. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code } from "@ragtune/runtime";
// The archive writer the trainer's agents pack adapters with.
import { archiveDirectory, type AdapterArchiveSource } from "@ragtune/adapter-archive";
import { isConnectError } from "@ragtune/testing";
import { createAdapterDirectory, STALE_PARTIAL_MS } from "./adapter-directory.js";

/** Archives in memory, counting fetches. */
function memorySource(archives: Record<string, Uint8Array>) {
  const fetched: string[] = [];
  const source: AdapterArchiveSource = {
    location: "memory",
    async fetch(id) {
      fetched.push(id);
      await new Promise((r) => setTimeout(r, 20));
      return archives[id];
    },
    async list() {
      return Object.keys(archives);
    },
  };
  return { source, fetched };
}

describe("adapter directory (unpacking PEFT adapter archives for vLLM)", () => {
  let work: string;
  let good: Uint8Array;
  let withSymlink: Uint8Array;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "ragtune-adapter-dir-"));
    const peft = join(work, "peft");
    await mkdir(join(peft, "checkpoint"), { recursive: true });
    await writeFile(join(peft, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 8 }));
    await writeFile(join(peft, "adapter_model.safetensors"), Buffer.alloc(3000, 7));
    await writeFile(join(peft, "checkpoint", "state.json"), "{}");
    good = await archiveDirectory(peft);
    await symlink("/etc/passwd", join(peft, "leak"));
    execFileSync("tar", ["--format=ustar", "-cf", join(work, "link.tar"), "-C", peft, "adapter_config.json", "leak"]);
    withSymlink = await readFile(join(work, "link.tar"));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it("unpacks an archive once for concurrent callers, atomically, with its nested files", async () => {
    const dir = join(work, "once");
    const { source, fetched } = memorySource({ "qa-200": good });
    const adapters = createAdapterDirectory({ dir, archives: source });
    const paths = await Promise.all(Array.from({ length: 5 }, () => adapters.materialize("qa-200")));
    assert.deepEqual(new Set(paths), new Set([join(dir, "qa-200")]));
    assert.deepEqual(fetched, ["qa-200"]);
    assert.deepEqual(await readdir(dir), ["qa-200"]);
    assert.deepEqual((await readdir(join(dir, "qa-200"))).sort(), [
      "adapter_config.json",
      "adapter_model.safetensors",
      "checkpoint",
    ]);
    assert.deepEqual(await readFile(join(dir, "qa-200", "adapter_model.safetensors")), Buffer.alloc(3000, 7));
    // A later call (or a restarted process) finds the folder whole and fetches nothing.
    await createAdapterDirectory({ dir, archives: source }).materialize("qa-200");
    assert.deepEqual(fetched, ["qa-200"]);
  });

  it("lets two replicas sharing the folder race: both succeed, one folder, no leftovers", async () => {
    const dir = join(work, "race");
    const a = memorySource({ "qa-500": good });
    const b = memorySource({ "qa-500": good });
    const [one, two] = await Promise.all([
      createAdapterDirectory({ dir, archives: a.source }).materialize("qa-500"),
      createAdapterDirectory({ dir, archives: b.source }).materialize("qa-500"),
    ]);
    assert.equal(one, two);
    assert.deepEqual(await readdir(dir), ["qa-500"]);
  });

  it("clears partial folders a dead process left, but not one another replica is writing", async () => {
    const dir = join(work, "stale");
    const stale = join(dir, ".qa-1000.partial-dead01");
    const fresh = join(dir, ".qa-1000.partial-live01");
    await mkdir(stale, { recursive: true });
    await mkdir(fresh, { recursive: true });
    const old = new Date(Date.now() - STALE_PARTIAL_MS - 60_000);
    await utimes(stale, old, old);
    const { source } = memorySource({ "qa-1000": good });
    await createAdapterDirectory({ dir, archives: source }).materialize("qa-1000");
    assert.deepEqual((await readdir(dir)).sort(), [".qa-1000.partial-live01", "qa-1000"]);
  });

  it("refuses links, garbage, truncation and non-PEFT archives, leaving no folder behind", async () => {
    const dir = join(work, "bad");
    const notPeft = await archiveDirectory(join(work, "peft", "checkpoint"));
    const { source } = memorySource({
      linked: withSymlink,
      garbage: Buffer.alloc(2048, 0x41),
      cut: good.subarray(0, 2000),
      "cut-at-block": good.subarray(0, 1024),
      "not-peft": notPeft,
    });
    const adapters = createAdapterDirectory({ dir, archives: source });
    await assert.rejects(
      adapters.materialize("linked"),
      isConnectError(Code.FailedPrecondition, /linked.*symbolic link/),
    );
    await assert.rejects(adapters.materialize("garbage"), isConnectError(Code.FailedPrecondition, /garbage.*checksum/));
    await assert.rejects(adapters.materialize("cut"), isConnectError(Code.FailedPrecondition, /cut.*truncated/));
    await assert.rejects(adapters.materialize("cut-at-block"), isConnectError(Code.FailedPrecondition, /truncated/));
    await assert.rejects(
      adapters.materialize("not-peft"),
      isConnectError(Code.FailedPrecondition, /not a PEFT adapter/),
    );
    await assert.rejects(adapters.materialize("missing"), isConnectError(Code.NotFound, /missing/));
    await assert.rejects(adapters.materialize("../etc"), isConnectError(Code.NotFound, /\.\.\/etc/));
    assert.deepEqual(await readdir(dir), []);
  });

  it("keeps its hands off a folder it did not write, and says UNAVAILABLE when the store is down", async () => {
    const dir = join(work, "foreign");
    await mkdir(join(dir, "qa-1000"), { recursive: true });
    const { source, fetched } = memorySource({ "qa-1000": good });
    await assert.rejects(
      createAdapterDirectory({ dir, archives: source }).materialize("qa-1000"),
      isConnectError(Code.FailedPrecondition, /holds no adapter_config\.json/),
    );
    assert.deepEqual(fetched, []);
    const down: AdapterArchiveSource = {
      location: "nats-obj://ragtune-adapters",
      fetch: () => Promise.reject(new Error("connection refused")),
      list: async () => [],
    };
    await assert.rejects(
      createAdapterDirectory({ dir, archives: down }).materialize("qa-2"),
      isConnectError(Code.Unavailable, /ragtune-adapters: connection refused/),
    );
  });
});
