import { readFile, rename, writeFile } from "node:fs/promises";
import type { DatasetSplit } from "./split.js";
import { normalizeQuestion, sha256Hex } from "./text.js";
import type { DatasetName, QaItem } from "./types.js";

/** One item as the manifest records it (the trainer reads these fields). */
export interface ManifestItem {
  id: string;
  /** sha256 of the item's canonical JSON (id, question, answer, answers, evidence). */
  sha256: string;
  question: string;
  answer: string;
  answers: string[];
  evidence: string[];
}

export interface ManifestPool {
  /** sha256 over the pool's item hashes, in order, newline-joined. */
  sha256: string;
  /** Size asked for; smaller `items` means the dataset was too small. */
  requestedSize: number;
  size: number;
  items: ManifestItem[];
}

export interface SplitManifest {
  version: 1;
  dataset: DatasetName;
  seed: number;
  createTime: string;
  /** Files the items were loaded from, with their sha256, when known. */
  sources?: { path: string; sha256?: string }[];
  duplicateQuestionsDropped?: number;
  pools: Record<string, ManifestPool>;
}

export function itemHash(item: Pick<QaItem, "id" | "question" | "answer" | "answers" | "evidence">): string {
  // Fixed key order makes the JSON canonical.
  return sha256Hex(
    JSON.stringify({
      id: item.id,
      question: item.question,
      answer: item.answer,
      answers: item.answers,
      evidence: item.evidence,
    }),
  );
}

export function poolHash(itemHashes: string[]): string {
  return sha256Hex(itemHashes.join("\n"));
}

export function createManifest(
  split: DatasetSplit,
  options: { sources?: { path: string; sha256?: string }[]; now?: Date } = {},
): SplitManifest {
  const pools: Record<string, ManifestPool> = {};
  for (const [name, pool] of Object.entries(split.pools)) {
    const items = pool.items.map((item) => ({
      id: item.id,
      sha256: itemHash(item),
      question: item.question,
      answer: item.answer,
      answers: item.answers,
      evidence: item.evidence,
    }));
    pools[name] = {
      sha256: poolHash(items.map((i) => i.sha256)),
      requestedSize: pool.requestedSize,
      size: items.length,
      items,
    };
  }
  return {
    version: 1,
    dataset: split.dataset,
    seed: split.seed,
    createTime: (options.now ?? new Date()).toISOString(),
    ...(options.sources ? { sources: options.sources } : {}),
    duplicateQuestionsDropped: split.duplicateQuestionsDropped,
    pools,
  };
}

export interface ManifestVerification {
  ok: boolean;
  problems: string[];
}

/**
 * Proves a manifest is intact and leak-free: every hash recomputes, the fine-tuning pools are nested
 * (each smaller pool a prefix of the next), and the eval pool shares no item id, item hash or normalized
 * question text with any fine-tuning pool.
 */
export function verifyManifest(manifest: SplitManifest): ManifestVerification {
  const problems: string[] = [];
  if (manifest.version !== 1) problems.push(`version: expected 1, got ${manifest.version}`);
  const pools = manifest.pools ?? {};
  if (!pools.eval) problems.push("pools.eval: missing");
  for (const [name, pool] of Object.entries(pools)) {
    pool.items.forEach((item, i) => {
      const hash = itemHash(item);
      if (hash !== item.sha256)
        problems.push(`pools.${name}.items[${i}] (${item.id}): sha256 does not match its content`);
    });
    if (poolHash(pool.items.map((i) => i.sha256)) !== pool.sha256)
      problems.push(`pools.${name}.sha256: does not match its items`);
    if (pool.size !== undefined && pool.size !== pool.items.length)
      problems.push(`pools.${name}.size: ${pool.size} but ${pool.items.length} items`);
    const ids = new Set(pool.items.map((i) => i.id));
    if (ids.size !== pool.items.length) problems.push(`pools.${name}: repeats an item id`);
  }
  const finetune = Object.entries(pools)
    .filter(([name]) => name !== "eval")
    .sort(([, a], [, b]) => a.items.length - b.items.length || (a.requestedSize ?? 0) - (b.requestedSize ?? 0));
  for (let i = 1; i < finetune.length; i++) {
    const [smallName, small] = finetune[i - 1];
    const [largeName, large] = finetune[i];
    const nested = small.items.every((item, k) => large.items[k]?.sha256 === item.sha256);
    if (!nested) problems.push(`pools.${smallName} is not nested in pools.${largeName}`);
  }
  if (pools.eval) {
    const trainIds = new Set<string>();
    const trainHashes = new Set<string>();
    const trainQuestions = new Set<string>();
    for (const [, pool] of finetune) {
      for (const item of pool.items) {
        trainIds.add(item.id);
        trainHashes.add(item.sha256);
        trainQuestions.add(normalizeQuestion(item.question));
      }
    }
    pools.eval.items.forEach((item, i) => {
      if (trainIds.has(item.id)) problems.push(`pools.eval.items[${i}]: id ${item.id} is also in a fine-tuning pool`);
      else if (trainHashes.has(item.sha256))
        problems.push(`pools.eval.items[${i}]: the same item is in a fine-tuning pool`);
      if (trainQuestions.has(normalizeQuestion(item.question))) {
        problems.push(`pools.eval.items[${i}]: question "${item.question}" is also asked in a fine-tuning pool`);
      }
    });
  }
  return { ok: problems.length === 0, problems };
}

/** Writes the manifest; resolves with the bytes written (what its sha256 and any copy of it are taken from). */
export async function writeManifest(path: string, manifest: SplitManifest): Promise<Uint8Array> {
  const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  // Written beside and renamed, so a reader never sees half a manifest.
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
  return bytes;
}

/** Reads a manifest and verifies it; throws listing every problem. */
export async function readManifest(path: string): Promise<SplitManifest> {
  const manifest = JSON.parse(await readFile(path, "utf8")) as SplitManifest;
  const verification = verifyManifest(manifest);
  if (!verification.ok) throw new Error(`${path}: manifest does not verify:\n  ${verification.problems.join("\n  ")}`);
  return manifest;
}
