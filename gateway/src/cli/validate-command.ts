/** `ragtune validate SPEC…`: every problem of each spec file, with its path and line; exit code 2 if any. */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { countCells, withDefaults } from "../experiments/experiment-spec.js";
import { formatProblem, readSpecFile } from "./spec-file.js";

export const validateUsage = `usage: ragtune validate SPEC... [--shape-only]
  Checks experiment spec files (YAML or JSON, the protobuf JSON mapping of ragtune.gateway.v1.ExperimentSpec):
  fields and types, values, dataset paths (relative to the file; demo:<dataset> is the demo corpus) and whether
  each dataset has enough questions for every fine-tune size. --shape-only skips the dataset files.
`;

/** Prints every problem of a spec file to stderr; returns how many there were. */
export function printProblems(file: string, problems: Parameters<typeof formatProblem>[1][]): number {
  for (const p of problems) console.error(formatProblem(file, p));
  if (problems.length) console.error(`${problems.length} problem${problems.length > 1 ? "s" : ""} in ${file}`);
  return problems.length;
}

export async function validateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { "shape-only": { type: "boolean", default: false }, help: { type: "boolean", default: false } },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(validateUsage);
    return values.help ? 0 : 2;
  }
  const stateDir = resolve(process.env.RAGTUNE_DATA_DIR || ".ragtune");
  let failed = 0;
  for (const file of positionals) {
    const read = await readSpecFile(file, { stateDir, checkFiles: !values["shape-only"] });
    if (printProblems(file, read.problems)) failed++;
    else console.log(`${file}: valid, ${countCells(withDefaults(read.spec!))} cells`);
  }
  return failed ? 2 : 0;
}
