/**
 * A file of human ratings of a run's answers, as `--human-ratings FILE` reads it: JSON Lines (one object per line)
 * or CSV with a header, each rating naming the answer (`cell_key` and `item_id`, as answers.jsonl has them), the
 * `criterion`, the `score` on the judge's 1..5 scale and optionally the `rater`. Other fields (the question, the
 * answer a rater saw) are allowed and ignored. A bad rating is an error naming the file, the line and the field.
 */
import { readFile } from "node:fs/promises";

export interface HumanRating {
  cellKey: string;
  itemId: string;
  criterion: string;
  score: number;
  /** Empty when the file does not say. */
  rater: string;
  /** 1-based line in the file. */
  line: number;
}

export class RatingsFileError extends Error {
  override name = "RatingsFileError";
}

/** Both spellings: the JSON mapping's camelCase and snake_case (a CSV header, answers.jsonl edited by hand). */
const FIELDS = {
  cellKey: ["cell_key", "cellKey"],
  itemId: ["item_id", "itemId"],
  criterion: ["criterion"],
  score: ["score"],
  rater: ["rater"],
} as const;

function field(record: Record<string, unknown>, names: readonly string[]): unknown {
  for (const name of names) if (record[name] !== undefined && record[name] !== "") return record[name];
  return undefined;
}

function toRating(record: Record<string, unknown>, line: number, where: (field: string) => string): HumanRating {
  const text = (key: keyof typeof FIELDS, optional = false): string => {
    const value = field(record, FIELDS[key]);
    if (value === undefined && optional) return "";
    if (typeof value !== "string" || !value.trim())
      throw new RatingsFileError(`${where(FIELDS[key][0])}: must be a non-empty string, got ${JSON.stringify(value)}`);
    return value.trim();
  };
  const raw = field(record, FIELDS.score);
  const score = typeof raw === "string" && raw.trim() ? Number(raw) : raw;
  if (typeof score !== "number" || !Number.isFinite(score) || score < 1 || score > 5) {
    throw new RatingsFileError(`${where("score")}: must be a number in 1..5, got ${JSON.stringify(raw)}`);
  }
  return {
    cellKey: text("cellKey"),
    itemId: text("itemId"),
    criterion: text("criterion"),
    score,
    rater: text("rater", true),
    line,
  };
}

/** One CSV line's cells: commas separate, double quotes quote ("" is a quote). */
function csvCells(line: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      cells.push(cell);
      cell = "";
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

function parseJsonLines(file: string, text: string): HumanRating[] {
  const ratings: HumanRating[] = [];
  text.split("\n").forEach((raw, i) => {
    if (!raw.trim()) return;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (error) {
      throw new RatingsFileError(`${file}:${i + 1}: not JSON (${(error as Error).message})`);
    }
    if (typeof record !== "object" || record === null || Array.isArray(record))
      throw new RatingsFileError(`${file}:${i + 1}: must be a JSON object`);
    ratings.push(toRating(record as Record<string, unknown>, i + 1, (f) => `${file}:${i + 1}: ${f}`));
  });
  return ratings;
}

function parseCsv(file: string, text: string): HumanRating[] {
  const lines = text.replace(/\r/g, "").split("\n");
  const header = csvCells(lines[0] ?? "").map((h) => h.trim());
  for (const key of ["cellKey", "itemId", "criterion", "score"] as const) {
    if (!FIELDS[key].some((name) => header.includes(name)))
      throw new RatingsFileError(`${file}:1: header: needs a column ${FIELDS[key][0]}, has ${header.join(", ")}`);
  }
  const ratings: HumanRating[] = [];
  lines.slice(1).forEach((raw, i) => {
    if (!raw.trim()) return;
    const cells = csvCells(raw);
    const record = Object.fromEntries(header.map((name, k) => [name, cells[k]?.trim() ?? ""]));
    ratings.push(toRating(record, i + 2, (f) => `${file}:${i + 2}: ${f}`));
  });
  return ratings;
}

/** Reads and checks a ratings file; one rater's second rating of the same answer and criterion is an error. */
export async function readHumanRatings(file: string): Promise<HumanRating[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new RatingsFileError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  const ratings = /\.csv$/i.test(file) ? parseCsv(file, text) : parseJsonLines(file, text);
  if (!ratings.length) throw new RatingsFileError(`${file}: no ratings`);
  const seen = new Map<string, number>();
  for (const r of ratings) {
    const key = JSON.stringify([r.cellKey, r.itemId, r.criterion, r.rater]);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new RatingsFileError(
        `${file}:${r.line}: rates ${r.itemId} of ${r.cellKey} on ${r.criterion}${r.rater ? ` by ${r.rater}` : ""} again (first on line ${earlier})`,
      );
    }
    seen.set(key, r.line);
  }
  return ratings;
}
