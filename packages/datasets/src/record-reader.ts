import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { gunzipSync, createGunzip } from "node:zlib";
import { DatasetFormatError } from "./errors.js";
import { jsonSyntaxProblem } from "./json-syntax.js";

/** V8 holds no string longer than about 512 MiB: a larger JSON document cannot be parsed whole. */
export const MAX_JSON_FILE_BYTES = 512 * 1024 * 1024;

/** Typed access to one JSON record, turning every shape problem into a DatasetFormatError. */
export class RecordReader {
  constructor(
    readonly file: string,
    readonly record: string,
    readonly value: unknown,
    private readonly path = "",
  ) {}

  private at(field: string): string {
    if (!this.path) return field;
    return field.startsWith("[") ? `${this.path}${field}` : `${this.path}.${field}`;
  }

  fail(field: string, reason: string): never {
    throw new DatasetFormatError(this.file, this.record, this.at(field) || "(record)", reason);
  }

  private object(): Record<string, unknown> {
    if (typeof this.value !== "object" || this.value === null || Array.isArray(this.value)) {
      this.fail("", "must be an object");
    }
    return this.value as Record<string, unknown>;
  }

  has(field: string): boolean {
    const value = this.object()[field];
    return value !== undefined && value !== null;
  }

  child(field: string): RecordReader {
    const value = this.object()[field];
    if (value === undefined) this.fail(field, "is missing");
    return new RecordReader(this.file, this.record, value, this.at(field));
  }

  string(field: string, options: { optional?: boolean; nonEmpty?: boolean } = {}): string {
    const value = this.object()[field];
    if ((value === undefined || value === null) && options.optional) return "";
    if (typeof value !== "string") this.fail(field, value === undefined ? "is missing" : "must be a string");
    if (options.nonEmpty && value.trim() === "") this.fail(field, "must not be empty");
    return value;
  }

  number(field: string): number {
    const value = this.object()[field];
    if (typeof value !== "number" || !Number.isFinite(value)) this.fail(field, "must be a number");
    return value;
  }

  boolean(field: string, options: { optional?: boolean } = {}): boolean {
    const value = this.object()[field];
    if ((value === undefined || value === null) && options.optional) return false;
    if (typeof value !== "boolean") this.fail(field, "must be true or false");
    return value;
  }

  /** The items of an array field, each as a reader. */
  array(field: string, options: { optional?: boolean } = {}): RecordReader[] {
    const value = this.object()[field];
    if ((value === undefined || value === null) && options.optional) return [];
    if (!Array.isArray(value)) this.fail(field, value === undefined ? "is missing" : "must be an array");
    return value.map((item, i) => new RecordReader(this.file, this.record, item, this.at(`${field}[${i}]`)));
  }

  strings(field: string, options: { optional?: boolean } = {}): string[] {
    return this.array(field, options).map((item) => item.asString());
  }

  /** The items of this value, which must be an array. */
  items(): RecordReader[] {
    if (!Array.isArray(this.value)) this.fail("", "must be an array");
    return this.value.map((item, i) => new RecordReader(this.file, this.record, item, this.at(`[${i}]`)));
  }

  asString(): string {
    if (typeof this.value !== "string") this.fail("", "must be a string");
    return this.value;
  }

  /** Entries of an object field, each as a reader. */
  entries(): [string, RecordReader][] {
    return Object.entries(this.object()).map(([key, value]) => [
      key,
      new RecordReader(this.file, this.record, value, this.at(key)),
    ]);
  }
}

/** Parses a whole JSON file (optionally .gz), naming the file on a syntax error. */
export async function readJsonFile(file: string): Promise<unknown> {
  const size = (await stat(file)).size;
  if (size > MAX_JSON_FILE_BYTES) {
    throw new DatasetFormatError(file, "(file)", "(json)", `${size} bytes: too large to parse as one JSON document`);
  }
  const raw = await readFile(file);
  const text = (file.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DatasetFormatError(file, "(file)", "(json)", jsonSyntaxProblem(error));
  }
}

/** Streams the records of a JSON-lines file (optionally .gz) with their line numbers, skipping blank lines. */
export async function* readJsonLines(file: string): AsyncGenerator<RecordReader> {
  const input = createReadStream(file);
  const stream = file.endsWith(".gz") ? input.pipe(createGunzip()) : input;
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new DatasetFormatError(file, `line ${number}`, "(json)", jsonSyntaxProblem(error));
    }
    yield new RecordReader(file, `line ${number}`, value);
  }
}
