/**
 * `--human-ratings FILE` of `ragtune results` and `ragtune report`: the file is read (and refused, naming line and
 * field) before the gateway is asked anything; the agreement is printed under the results and, for a report,
 * written beside it as human-agreement.csv.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AnswerRecord } from "@ragtune/contracts/gateway";
import { agreementCsv, formatAgreementTable, humanAgreement } from "./human-agreement.js";
import { type HumanRating, RatingsFileError, readHumanRatings } from "./human-ratings-file.js";

export interface RatingsOption {
  file: string;
  ratings: HumanRating[];
}

/** The option's ratings, undefined without the option, or the one-line problem with the file. */
export async function readRatingsOption(file: string | undefined): Promise<RatingsOption | string | undefined> {
  if (!file) return undefined;
  try {
    return { file, ratings: await readHumanRatings(file) };
  } catch (error) {
    if (error instanceof RatingsFileError) return `--human-ratings ${error.message}`;
    throw error;
  }
}

async function* records(stream: AsyncIterable<{ record?: AnswerRecord }>): AsyncIterable<AnswerRecord> {
  for await (const { record } of stream) if (record) yield record;
}

/** Prints the agreement to `out`; with `dir`, also writes human-agreement.csv there and returns its path. */
export async function showAgreement(options: {
  option: RatingsOption;
  answers: AsyncIterable<{ record?: AnswerRecord }>;
  out: { write(text: string): unknown };
  dir?: string;
}): Promise<string | undefined> {
  const agreement = await humanAgreement(records(options.answers), options.option.ratings);
  options.out.write(formatAgreementTable(options.option.file, agreement));
  if (!options.dir) return undefined;
  const path = join(options.dir, "human-agreement.csv");
  await writeFile(path, agreementCsv(agreement));
  return path;
}
