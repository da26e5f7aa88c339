/**
 * Every place where a JSON value does not fit a protobuf message in the proto3 JSON mapping: unknown fields, wrong
 * types, out-of-range integers, unknown enum names. protobuf-es's fromJson stops at the first of them; a spec
 * file's author wants them all at once, each with its path in the file.
 */
import { type DescEnum, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";

export interface ShapeProblem {
  /** Path as written in the file: `datasets[1].paths[0]`, `labels["a"]`. */
  path: string;
  message: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const INT_RANGES: Partial<Record<ScalarType, [number | bigint, number | bigint, string]>> = {
  [ScalarType.INT32]: [-(2 ** 31), 2 ** 31 - 1, "int32"],
  [ScalarType.SINT32]: [-(2 ** 31), 2 ** 31 - 1, "sint32"],
  [ScalarType.SFIXED32]: [-(2 ** 31), 2 ** 31 - 1, "sfixed32"],
  [ScalarType.UINT32]: [0, 2 ** 32 - 1, "uint32"],
  [ScalarType.FIXED32]: [0, 2 ** 32 - 1, "fixed32"],
  [ScalarType.INT64]: [-(2n ** 63n), 2n ** 63n - 1n, "int64"],
  [ScalarType.SINT64]: [-(2n ** 63n), 2n ** 63n - 1n, "sint64"],
  [ScalarType.SFIXED64]: [-(2n ** 63n), 2n ** 63n - 1n, "sfixed64"],
  [ScalarType.UINT64]: [0n, 2n ** 64n - 1n, "uint64"],
  [ScalarType.FIXED64]: [0n, 2n ** 64n - 1n, "fixed64"],
};

function describe(value: Json): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return JSON.stringify(value);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The closest of the candidates, when it is close enough to be a likely typo. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function scalarProblem(type: ScalarType, value: Json): string | undefined {
  switch (type) {
    case ScalarType.STRING:
      return typeof value === "string" ? undefined : `must be a string, got ${describe(value)}`;
    case ScalarType.BOOL:
      return typeof value === "boolean" ? undefined : `must be true or false, got ${describe(value)}`;
    case ScalarType.BYTES:
      return typeof value === "string" && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value)
        ? undefined
        : `must be base64 text, got ${describe(value)}`;
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE: {
      if (typeof value === "number") return undefined;
      if (typeof value === "string" && (["NaN", "Infinity", "-Infinity"].includes(value) || isNumeric(value)))
        return undefined;
      return `must be a number, got ${describe(value)}`;
    }
  }
  const [min, max, name] = INT_RANGES[type]!;
  let n: bigint;
  if (typeof value === "number" && Number.isInteger(value)) n = BigInt(value);
  else if (typeof value === "string" && /^-?\d+$/.test(value.trim())) n = BigInt(value.trim());
  else return `must be a whole number (${name}), got ${describe(value)}`;
  if (n < BigInt(min) || n > BigInt(max)) return `must be in ${min}..${max} (${name}), got ${n}`;
  return undefined;
}

function isNumeric(text: string): boolean {
  return text.trim() !== "" && Number.isFinite(Number(text));
}

function enumProblem(desc: DescEnum, value: Json): string | undefined {
  if (typeof value === "number" && Number.isInteger(value)) {
    return desc.values.some((v) => v.number === value) ? undefined : `${value} is not a ${desc.name} number`;
  }
  // The zero value is accepted (it is the default) but never the one to suggest.
  const names = desc.values.filter((v) => v.number !== 0).map((v) => v.name);
  if (typeof value !== "string") return `must be one of ${names.join(", ")}, got ${describe(value)}`;
  if (desc.values.some((v) => v.name === value)) return undefined;
  // The mapping wants the full name; "lora" for FINE_TUNE_METHOD_LORA is the likely slip, so name the fix.
  const full = `${desc.sharedPrefix ?? ""}${value.replace(/-/g, "_")}`.toUpperCase();
  const guess = names.find((name) => name === full) ?? closest(value, names);
  const hint = guess ? `did you mean ${guess}? ` : "";
  return `"${value}" is not a ${desc.name}: ${hint}one of ${names.join(", ")}`;
}

function zeroValue(kind: { message?: DescMessage; enum?: DescEnum; scalar?: ScalarType }): Json {
  if (kind.message) return {};
  if (kind.enum) return 0;
  switch (kind.scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return "";
    case ScalarType.BOOL:
      return false;
    default:
      return 0;
  }
}

/** Checks one value; returns it with every part that does not fit left out (undefined: none of it fits). */
function checkElement(
  kind: { message?: DescMessage; enum?: DescEnum; scalar?: ScalarType },
  value: Json,
  path: string,
  out: ShapeProblem[],
): Json | undefined {
  if (kind.message) return checkMessage(kind.message, value, path, out);
  const problem = kind.enum ? enumProblem(kind.enum, value) : scalarProblem(kind.scalar!, value);
  if (!problem) return value;
  out.push({ path, message: problem });
  return undefined;
}

function checkField(field: DescField, value: Json, path: string, out: ShapeProblem[]): Json | undefined {
  if (value === null) return null; // null is the field's default in the JSON mapping
  switch (field.fieldKind) {
    case "list": {
      if (!Array.isArray(value)) {
        out.push({ path, message: `must be a list, got ${describe(value)}` });
        return undefined;
      }
      // An element that does not fit becomes its zero value, so later elements keep their index in the file.
      return value.map((item, i) => {
        if (item === null) out.push({ path: `${path}[${i}]`, message: "must not be null" });
        const kept = item === null ? undefined : checkElement(field, item, `${path}[${i}]`, out);
        return kept === undefined ? zeroValue(field) : kept;
      });
    }
    case "map": {
      if (typeof value !== "object" || Array.isArray(value)) {
        out.push({ path, message: `must be an object, got ${describe(value)}` });
        return undefined;
      }
      const entries: Record<string, Json> = {};
      for (const [key, item] of Object.entries(value)) {
        const at = `${path}[${JSON.stringify(key)}]`;
        const keyType =
          field.mapKey === ScalarType.BOOL || field.mapKey === ScalarType.STRING ? undefined : field.mapKey;
        const keyProblem = keyType === undefined ? undefined : scalarProblem(keyType, key);
        if (keyProblem) out.push({ path: at, message: `key ${keyProblem}` });
        const kept = keyProblem ? undefined : checkElement(field, item, at, out);
        if (kept !== undefined) entries[key] = kept;
      }
      return entries;
    }
    default:
      return checkElement(field, value, path, out);
  }
}

/**
 * Every problem of `value` as the JSON form of `desc`, and the value without the parts that have one, so that the
 * checks of meaning can still run on the rest.
 */
export function checkJsonShape(desc: DescMessage, value: unknown): { problems: ShapeProblem[]; fitting: Json } {
  const problems: ShapeProblem[] = [];
  const fitting = checkMessage(desc, value as Json, "", problems) ?? {};
  return { problems, fitting };
}

function checkMessage(desc: DescMessage, value: Json, path: string, out: ShapeProblem[]): Json | undefined {
  const at = (key: string) => (path ? `${path}.${key}` : key);
  // Well-known types have JSON forms of their own (a timestamp is a string); their parser checks them.
  if (desc.typeName.startsWith("google.protobuf.")) return value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    out.push({
      path: path || "(top level)",
      message: `must be an object of ${desc.name} fields, got ${describe(value)}`,
    });
    return undefined;
  }
  const kept: Record<string, Json> = {};
  const byKey = new Map<string, DescField>();
  for (const f of desc.fields) {
    byKey.set(f.name, f);
    byKey.set(f.jsonName, f);
  }
  const oneofsSet = new Map<string, string>();
  const seen = new Map<DescField, string>();
  for (const [key, item] of Object.entries(value)) {
    const field = byKey.get(key);
    const twice = field && seen.get(field);
    if (twice) {
      out.push({ path: at(key), message: `the same field as ${twice}; give it once` });
      continue;
    }
    if (field) seen.set(field, key);
    if (!field) {
      const guess = closest(
        key,
        desc.fields.map((f) => f.name),
      );
      // A likely typo is named; otherwise every field the message has, so the author sees what is possible.
      const known = guess ? `did you mean ${guess}?` : `known: ${desc.fields.map((f) => f.name).join(", ")}`;
      out.push({ path: at(key), message: `unknown field of ${desc.name} (${known})` });
      continue;
    }
    if (field.oneof && item !== null) {
      const other = oneofsSet.get(field.oneof.name);
      if (other) {
        out.push({ path: at(key), message: `only one of ${field.oneof.name}'s fields may be set; ${other} is too` });
        continue;
      }
      oneofsSet.set(field.oneof.name, key);
    }
    const fits = checkField(field, item, at(key), out);
    if (fits !== undefined) kept[key] = fits;
  }
  return kept;
}
