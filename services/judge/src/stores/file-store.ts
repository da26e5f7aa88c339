import { link, mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { JsonStore } from "./blob-store.js";

const KEY_PATTERN = /^[A-Za-z0-9_.=-]+$/;

/** One JSON file per key under `dir`; writes go through a temp file and rename so readers never see half a file. */
export function createFileStore<T>(dir: string): JsonStore<T> {
  let ready: Promise<unknown> | undefined;
  const pathOf = (key: string) => {
    if (!KEY_PATTERN.test(key)) throw new Error(`store key ${JSON.stringify(key)} has characters a file name can't`);
    return join(dir, `${key}.json`);
  };
  const writeTemp = async (path: string, value: T) => {
    ready ??= mkdir(dir, { recursive: true });
    await ready;
    const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(temp, JSON.stringify(value));
    return temp;
  };
  const store: JsonStore<T> = {
    async get(key) {
      try {
        return JSON.parse(await readFile(pathOf(key), "utf8")) as T;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    async put(key, value) {
      const path = pathOf(key);
      await rename(await writeTemp(path, value), path);
    },
    async putIfAbsent(key, value) {
      const path = pathOf(key);
      const temp = await writeTemp(path, value);
      try {
        // link() fails when the name exists, so of two writers exactly one wins, atomically.
        await link(temp, path);
        return value;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        return (await store.get(key)) as T;
      } finally {
        await unlink(temp);
      }
    },
  };
  return store;
}
