/**
 * An experiment as a file: the protobuf JSON mapping of ExperimentSpec, written as YAML or JSON. Reading one lists
 * every problem with its path in the file (and its line): wrong shapes and unknown fields, values the gateway
 * would refuse, dataset paths that do not exist and fine-tune sizes a dataset has too few questions for.
 *
 * Dataset paths are relative to the spec file's folder; `demo:<dataset>` names the embedded demo corpus, written
 * once into <state dir>/demo-corpus.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { type ExperimentSpec, ExperimentSpecSchema } from "@ragtune/contracts/gateway";
import { type DatasetName, loadDataset, normalizeQuestion } from "@ragtune/datasets";
import { DEFAULT_DEMO_SEED, ensureDemoCorpus } from "@ragtune/demo-corpus";
import { LineCounter, parseDocument } from "yaml";
import { DATASET_FORMATS, type SpecProblem, specProblems, withDefaults } from "../experiments/experiment-spec.js";
import { DATASET_FOLDERS } from "./data-source.js";
import { checkJsonShape } from "./json-shape.js";

export const DEMO_PREFIX = "demo:";

export interface SpecFileProblem extends SpecProblem {
  /** 1-based line of the field in the file, where it is in the file. */
  line?: number;
}

export interface SpecFile {
  /** The spec with dataset paths resolved; absent when the file has problems. */
  spec?: ExperimentSpec;
  problems: SpecFileProblem[];
  /** Set when the spec reads the demo corpus (fictional data), once it is written. */
  demo?: { dir: string; seed: number; generated: boolean; version: number; asked: true };
}

export interface SpecFileOptions {
  /** Check that dataset paths exist and hold enough questions (default). Off: shape and values only. */
  checkFiles?: boolean;
  /** Local state folder (.ragtune): where `demo:` datasets are written. */
  stateDir: string;
}

/** `datasets[1].paths[0]` → ["datasets", 1, "paths", 0]. */
function pathKeys(path: string): (string | number)[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g)].map((m) =>
    m[2] !== undefined ? Number(m[2]) : m[3] !== undefined ? JSON.parse(`"${m[3]}"`) : m[1],
  );
}

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

export function formatProblem(file: string, p: SpecFileProblem): string {
  return `${file}${p.line ? `:${p.line}` : ""}: ${p.path}: ${p.message}`;
}

/** Reads, checks and resolves a spec file. Never throws for a problem of the file: it is in `problems`. */
export async function readSpecFile(file: string, options: SpecFileOptions): Promise<SpecFile> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return { problems: [{ path: "(file)", message: (error as Error).message }] };
  }
  // YAML 1.2 is a superset of JSON, so one parser reads both and gives lines for either.
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length) {
    return {
      problems: doc.errors.map((e) => ({
        path: "(syntax)",
        line: e.linePos?.[0].line,
        message: e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, ""),
      })),
    };
  }
  // The line of the field, or of the nearest enclosing one that is in the file (a default is in none).
  const lineOf = (path: string): number | undefined => {
    const keys = pathKeys(path);
    for (let n = keys.length; n > 0; n--) {
      for (const variant of [keys, keys.map((k) => (typeof k === "string" ? camel(k) : k))]) {
        const node = doc.getIn(variant.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        if (node?.range) return lines.linePos(node.range[0]).line;
      }
    }
    return undefined;
  };
  const withLines = (problems: SpecProblem[]) =>
    problems
      .map((p) => ({ ...p, line: lineOf(p.path) }))
      .sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));

  const { problems: shapeProblems, fitting } = checkJsonShape(ExperimentSpecSchema, doc.toJS() ?? {});
  if (shapeProblems.some((p) => p.path === "(top level)")) return { problems: withLines(shapeProblems) };
  let spec: ExperimentSpec;
  try {
    spec = fromJson(ExperimentSpecSchema, fitting as JsonValue);
  } catch (error) {
    // checkJsonShape leaves only what fits; anything fromJson still refuses is a gap in it, shown as is.
    return { problems: withLines([...shapeProblems, { path: "(spec)", message: (error as Error).message }]) };
  }
  const baseDir = dirname(resolve(file));
  let demoDir: string | undefined;
  let demo: SpecFile["demo"];
  const fileProblems: SpecProblem[] = [];
  for (const dataset of spec.datasets) {
    for (const [j, path] of dataset.paths.entries()) {
      if (path.startsWith(DEMO_PREFIX)) {
        const name = path.slice(DEMO_PREFIX.length);
        const folder = DATASET_FOLDERS[name];
        if (!folder) {
          fileProblems.push({
            path: `datasets[${spec.datasets.indexOf(dataset)}].paths[${j}]`,
            message: `the demo corpus has ${Object.keys(DATASET_FOLDERS)
              .filter((d) => d !== "nq")
              .map((d) => `${DEMO_PREFIX}${d}`)
              .join(", ")}, not "${path}"`,
          });
          continue;
        }
        demoDir = resolve(options.stateDir, "demo-corpus");
        dataset.paths[j] = join(demoDir, folder);
      } else if (path) {
        dataset.paths[j] = resolve(baseDir, path);
      }
    }
  }
  // A field whose shape is wrong was left out, so its value checks would only repeat the complaint.
  const within = (path: string, outer: string) =>
    path === outer || path.startsWith(`${outer}.`) || path.startsWith(`${outer}[`);
  const valueProblems = specProblems(spec).filter((p) => !shapeProblems.some((s) => within(p.path, s.path)));
  const problems = [...shapeProblems, ...valueProblems, ...fileProblems];
  // Files are checked even when other fields have problems, so that one pass lists them all.
  if (options.checkFiles !== false) {
    if (demoDir) {
      const { manifest, generated } = await ensureDemoCorpus(demoDir, DEFAULT_DEMO_SEED);
      demo = { dir: demoDir, seed: manifest.seed, generated, version: manifest.version, asked: true };
    }
    problems.push(...(await datasetProblems(spec)));
  }
  return problems.length ? { problems: withLines(problems) } : { spec, problems: [], demo };
}

/** Questions a dataset needs for a pool of `size` with the spec's evaluation size (see splitDataset). */
export function questionsNeeded(size: number, evalSize: number): number {
  if (evalSize > 0) return size + evalSize;
  // eval_size 0: the evaluation set is what the largest pool leaves, but at least a fifth of the questions.
  let n = Math.ceil((size * 5) / 4);
  while (n - Math.ceil(n / 5) < size) n++;
  return n;
}

async function datasetProblems(spec: ExperimentSpec): Promise<SpecProblem[]> {
  const problems: SpecProblem[] = [];
  const full = withDefaults(spec);
  const sizesPath = spec.finetuneSizes.length ? "finetune_sizes" : "finetune_sizes (default)";
  for (const [i, dataset] of spec.datasets.entries()) {
    const path = dataset.paths[0];
    const at = `datasets[${i}].paths[0]`;
    if (!path) continue;
    if (!existsSync(path)) {
      problems.push({ path: at, message: `no such file or folder: ${path}` });
      continue;
    }
    if (!(DATASET_FORMATS as readonly string[]).includes(dataset.format)) continue;
    let questions: number;
    try {
      const loaded = await loadDataset(dataset.format as DatasetName, path);
      // The split drops repeated questions, so only distinct ones count.
      questions = new Set(loaded.items.map((item) => normalizeQuestion(item.question))).size;
    } catch (error) {
      problems.push({ path: at, message: `cannot be read as ${dataset.format}: ${(error as Error).message}` });
      continue;
    }
    const name = dataset.name || dataset.format;
    const count = (n: number) => n.toLocaleString("en-US");
    full.finetuneSizes.forEach((size, k) => {
      const needed = size > 0 ? questionsNeeded(size, full.evalSize) : full.evalSize;
      if (questions < needed) {
        problems.push({
          path: `${sizesPath}[${k}]`,
          message: `${size} needs ${count(needed)} questions, ${name} has ${count(questions)}`,
        });
      }
    });
  }
  return problems;
}
