import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { AdapterArchiveError, type AdapterArchiveSource } from "@ragtune/adapter-archive";
import { createRecordVerifiedArchiveSource } from "./adapter-records.js";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Archives held in memory. */
function archivesOf(entries: Record<string, Uint8Array>): AdapterArchiveSource {
  return {
    location: "memory",
    fetch: async (id) => entries[id],
    list: async () => Object.keys(entries),
  };
}

describe("archives verified against the trainer's adapter record", () => {
  const genuine = Buffer.from("genuine archive");
  const forged = Buffer.from("forged archive");
  const records: Record<string, string> = { good: sha256(genuine), swapped: sha256(genuine) };
  const source = createRecordVerifiedArchiveSource(
    archivesOf({ good: genuine, swapped: forged, unrecorded: genuine }),
    async (id) => records[id],
  );

  it("hands out an archive whose sha256 is the recorded one", async () => {
    assert.deepEqual(await source.fetch("good"), genuine);
    assert.deepEqual((await source.list()).sort(), ["good", "swapped", "unrecorded"]);
  });

  it("refuses one that differs from its record, and one without a record", async () => {
    await assert.rejects(source.fetch("swapped"), (error: unknown) => {
      assert.ok(error instanceof AdapterArchiveError);
      assert.match(error.message, new RegExp(`has sha256 ${sha256(forged)}, but the trainer's adapter record says`));
      return true;
    });
    await assert.rejects(source.fetch("unrecorded"), /has no adapter record at the trainer/);
  });

  it("reports a missing archive as missing, and a record lookup that fails as that failure", async () => {
    assert.equal(await source.fetch("absent"), undefined);
    const down = createRecordVerifiedArchiveSource(archivesOf({ good: genuine }), async () => {
      throw new Error("trainer unavailable");
    });
    await assert.rejects(down.fetch("good"), /trainer unavailable/);
  });
});
