/**
 * The split manifest file: the canonical proto3 JSON of ragtune.datasets.v1.SplitManifest, written by the gateway
 * and read by the trainer and its node agents through this one module, so the two sides cannot name a field
 * differently. Reading is strict: an unknown field (a typo such as `sourceID`) is an error, not a silent default.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { SplitManifestSchema } from "@ragtune/contracts/datasets";
import { jsonSyntaxProblem } from "./json-syntax.js";
import { MANIFEST_VERSION, type SplitManifest, verifyManifest } from "./manifest.js";

/** A manifest that cannot be used: the caller's error (never retried). */
export class ManifestError extends Error {
  override name = "ManifestError";
}

/** A decoding error without the value it quotes ("… from JSON: <value>"); an unknown key's name is kept. */
function withoutValues(error: Error): string {
  const unknownKey = /key "[^"]{0,64}" is unknown/.exec(error.message);
  return unknownKey
    ? error.message.slice(0, unknownKey.index + unknownKey[0].length)
    : error.message.replace(/(from JSON):.*$/s, "$1");
}

/** The file's bytes: the JSON mapping (camelCase names, fields at their default left out), indented, newline. */
export function serializeManifest(manifest: SplitManifest): Uint8Array {
  return Buffer.from(`${JSON.stringify(toJson(SplitManifestSchema, manifest), null, 2)}\n`);
}

/**
 * A manifest from its bytes: JSON that matches the schema, version 1, and every item with a question and an
 * answer. Hashes are not checked here (verifyManifest does; a trainer checks the whole file's sha256 instead).
 */
export function parseManifest(data: Uint8Array | string): SplitManifest {
  let json: unknown;
  try {
    json = JSON.parse(typeof data === "string" ? data : Buffer.from(data).toString("utf8"));
  } catch (error) {
    throw new ManifestError(`manifest is ${jsonSyntaxProblem(error)}`);
  }
  let manifest: SplitManifest;
  try {
    manifest = fromJson(SplitManifestSchema, json as Parameters<typeof fromJson>[1]);
  } catch (error) {
    throw new ManifestError(
      `manifest does not match ragtune.datasets.v1.SplitManifest: ${withoutValues(error as Error)}`,
    );
  }
  if (manifest.version !== MANIFEST_VERSION) {
    throw new ManifestError(`manifest version ${manifest.version} is not supported (${MANIFEST_VERSION})`);
  }
  if (Object.keys(manifest.pools).length === 0) throw new ManifestError("manifest has no pools");
  for (const [name, pool] of Object.entries(manifest.pools)) {
    pool.items.forEach((item, i) => {
      if (!item.question || !item.answer) {
        throw new ManifestError(`pools.${name}.items[${i}] (${item.id}): no question or no answer`);
      }
    });
  }
  return manifest;
}

/** Writes the manifest; resolves with the bytes written (what its sha256 and any copy of it are taken from). */
export async function writeManifest(path: string, manifest: SplitManifest): Promise<Uint8Array> {
  const bytes = serializeManifest(manifest);
  // Written beside and renamed, so a reader never sees half a manifest.
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
  return bytes;
}

/** Reads a manifest and verifies it (hashes, nesting, no leakage); throws listing every problem. */
export async function readManifest(path: string): Promise<SplitManifest> {
  const manifest = parseManifest(await readFile(path));
  const verification = verifyManifest(manifest);
  if (!verification.ok) throw new Error(`${path}: manifest does not verify:\n  ${verification.problems.join("\n  ")}`);
  return manifest;
}
