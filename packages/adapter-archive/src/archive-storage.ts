/**
 * Where the trainer's agents put adapter archives: the NATS Object Store by default (nats-obj://bucket/name, the
 * archive's sha256 as object metadata), or a directory (a path, for a shared filesystem). archive-sources.ts
 * reads both back.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Objm } from "@nats-io/obj";
import { openObjectStore } from "@ragtune/runtime";

export const sha256Hex = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

export interface StoredAdapter {
  uri: string;
  sha256: string;
  sizeBytes: number;
}

export interface AdapterStorage {
  put(adapterId: string, archive: Uint8Array): Promise<StoredAdapter>;
}

export const DEFAULT_ADAPTER_BUCKET = "ragtune-adapters";

export function createObjectStoreAdapterStorage(objm: Objm, bucket = DEFAULT_ADAPTER_BUCKET): AdapterStorage {
  return {
    async put(adapterId, archive) {
      const store = await openObjectStore(objm, bucket);
      const name = `${adapterId}.tar`;
      const sha256 = sha256Hex(archive);
      await store.putBlob({ name, description: `ragtune adapter ${adapterId}`, metadata: { sha256 } }, archive);
      return { uri: `nats-obj://${bucket}/${name}`, sha256, sizeBytes: archive.length };
    },
  };
}

export function createDirectoryAdapterStorage(dir: string): AdapterStorage {
  return {
    async put(adapterId, archive) {
      await mkdir(dir, { recursive: true });
      const path = resolve(join(dir, `${adapterId}.tar`));
      await writeFile(path, archive);
      return { uri: path, sha256: sha256Hex(archive), sizeBytes: archive.length };
    },
  };
}
