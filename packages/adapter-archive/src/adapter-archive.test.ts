import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readArchive } from "./archive-reader.js";
import { archiveDirectory } from "./archive-writer.js";

describe("adapter archive", () => {
  it("round-trips a PEFT-style directory, byte-identical for identical content, and unpacks with tar", async () => {
    const dir = await mkdtemp(join(tmpdir(), "archive-"));
    try {
      const src = join(dir, "adapter");
      await mkdir(join(src, "sub"), { recursive: true });
      await writeFile(join(src, "adapter_config.json"), '{"r": 16}');
      const weights = Buffer.alloc(1500, 7);
      await writeFile(join(src, "adapter_model.safetensors"), weights);
      await writeFile(join(src, "sub", "note.txt"), "");
      const archive = await archiveDirectory(src);
      assert.equal(archive.length % 512, 0);
      assert.deepEqual(await archiveDirectory(src), archive);
      const files = readArchive(archive);
      assert.deepEqual([...files.keys()], ["adapter_config.json", "adapter_model.safetensors", "sub/note.txt"]);
      assert.deepEqual(Buffer.from(files.get("adapter_model.safetensors")!), weights);

      const tar = spawnSync("tar", ["--version"]);
      if (tar.status === 0) {
        const out = join(dir, "out");
        await mkdir(out);
        await writeFile(join(dir, "a.tar"), archive);
        const result = spawnSync("tar", ["-xf", join(dir, "a.tar"), "-C", out], { encoding: "utf8" });
        assert.equal(result.status, 0, result.stderr);
        assert.equal(await readFile(join(out, "adapter_config.json"), "utf8"), '{"r": 16}');
        assert.deepEqual(await readFile(join(out, "adapter_model.safetensors")), weights);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
