/**
 * The names a client gives that end up in file paths, KV keys, object names and job ids, and the one charset each
 * may use, so that no name can leave the gateway's work folder (`..`, `/`), split into extra KV key tokens, or
 * collide with another after the gateway shortens or rewrites it.
 */
import { createHash } from "node:crypto";

/** Item ids come from datasets (any characters, any length): where one is a KV key token, it is its hash. */
export const itemKeyToken = (itemId: string) => createHash("sha256").update(itemId).digest("hex").slice(0, 32);

/**
 * Experiment ids: 1..64 characters, dot-separated tokens of [A-Za-z0-9_-] (no empty token, so no leading,
 * trailing or doubled dot): each token is one KV key token, and neither "." nor ".." can be an id.
 */
export const EXPERIMENT_ID_PATTERN = /^(?=.{1,64}$)[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
export const EXPERIMENT_ID_RULE =
  "1..64 characters: dot-separated words of [A-Za-z0-9_-] (no leading, trailing or double dot)";

/**
 * Dataset names: 1..40 characters of [A-Za-z0-9_-], starting with a letter or digit. A name is used as is in the
 * manifest's file name and in cell keys, so it must be a single path segment and a single KV key token, and short
 * enough that no cell key shortens it (two long names sharing a prefix would otherwise share cells).
 */
export const DATASET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;
export const DATASET_NAME_RULE = "1..40 characters of [A-Za-z0-9_-], starting with a letter or digit";

/** The experiment's display name (it heads the report, stand-ins named): free text, bounded, without path separators or control characters. */
export const MAX_EXPERIMENT_NAME_LENGTH = 500;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
export const EXPERIMENT_NAME_PATTERN = /^[^/\\\u0000-\u001f\u007f]*$/;
