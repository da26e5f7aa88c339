/**
 * Adapter archives where the trainer's node agents store them: object `<adapter>.tar` in a NATS Object Store
 * bucket (the default) or file `<adapter>.tar` in a directory (AGENT_ADAPTER_DIR). The extractive backend reads
 * reader weights out of them; the OpenAI-compatible backend unpacks PEFT adapters from them for vLLM.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ObjectStore, Objm } from "@nats-io/obj";
import { openObjectStore } from "@ragtune/runtime";
import { AdapterArchiveError } from "./archive-reader.js";
import { sha256Hex } from "./archive-storage.js";

export { AdapterArchiveError } from "./archive-reader.js";

/** The adapter ids the trainer hands out (job ids); anything else cannot name an archive. */
export const ADAPTER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface AdapterArchiveSource {
  /** Where archives come from, for messages: `nats-obj://ragtune-adapters` or a directory. */
  readonly location: string;
  /**
   * The archive's bytes, or undefined when there is no such adapter. Where the store recorded the archive's
   * sha256 (the trainer's agents write the Adapter record's checksum as object metadata), the bytes are checked
   * against it: a mismatch throws AdapterArchiveError. Other failures (the store is down) throw other errors.
   */
  fetch(adapterId: string): Promise<Uint8Array | undefined>;
  /** Adapter ids with an archive. */
  list(): Promise<string[]>;
}

function checkSha256(adapterId: string, bytes: Uint8Array, expected: string | undefined): Uint8Array {
  if (!expected) return bytes;
  const actual = sha256Hex(bytes);
  if (actual !== expected.toLowerCase()) {
    throw new AdapterArchiveError(`archive ${adapterId}.tar has sha256 ${actual}, the trainer recorded ${expected}`);
  }
  return bytes;
}

/** The trainer's default storage: object `<adapter>.tar` in a NATS Object Store bucket (metadata.sha256 checked). */
export function createObjectStoreArchiveSource(objm: Objm, bucket: string): AdapterArchiveSource {
  let store: Promise<ObjectStore> | undefined;
  const open = () => {
    store ??= openObjectStore(objm, bucket);
    store.catch(() => {
      store = undefined;
    });
    return store;
  };
  return {
    location: `nats-obj://${bucket}`,
    async fetch(adapterId) {
      if (!ADAPTER_ID.test(adapterId)) return undefined;
      const objects = await open();
      const name = `${adapterId}.tar`;
      const info = await objects.info(name);
      if (!info || info.deleted) return undefined;
      const blob = await objects.getBlob(name);
      return blob ? checkSha256(adapterId, blob, info.metadata?.sha256) : undefined;
    },
    async list() {
      const infos = await (await open()).list();
      return infos.filter((i) => !i.deleted && i.name.endsWith(".tar")).map((i) => i.name.slice(0, -4));
    },
  };
}

/** Reads a file, undefined when it does not exist. */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** `<dir>/<adapter>.tar`, as the trainer's directory storage (AGENT_ADAPTER_DIR) writes it. */
export function createDirectoryArchiveSource(directory: string): AdapterArchiveSource {
  return {
    location: directory,
    async fetch(adapterId) {
      return ADAPTER_ID.test(adapterId) ? readIfExists(join(directory, `${adapterId}.tar`)) : undefined;
    },
    async list() {
      const names = await readdir(directory).catch(() => [] as string[]);
      return names.filter((n) => n.endsWith(".tar")).map((n) => n.slice(0, -4));
    },
  };
}
