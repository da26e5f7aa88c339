/**
 * `ragtune run`: the main job. Runs the paper's grid (datasets × base model × fine-tune sizes 0/200/500/1000), or
 * the experiment a spec file describes, end to end: on the suite at GATEWAY_URL, else on one answering at the
 * default address (`npm start`), else on a local stack of embedded defaults started for the run (extractive
 * reader as the model, CPU fine-tuning of its scorer, LanceDB BM25 retrieval, the reference scorer as judge).
 * Follows the run's progress and writes results.csv, results.json and report.html.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, Code } from "@connectrpc/connect";
import { type ExperimentSpecSchema, ExperimentState } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import { writeReport } from "../reports/write-report.js";
import { readRatingsOption, showAgreement } from "./human-ratings-option.js";
import {
  DATASET_FOLDERS,
  DEMO_DATASETS,
  describeRun,
  REAL_DATA_DEFAULT_DATASETS,
  resolveDataSource,
  type StandIn,
  standIns,
} from "./data-source.js";
import { followEndLines } from "./experiment-commands.js";
import { detachOnInterrupt, everyOption, followExperiment } from "./follow-experiment.js";
import {
  explainGatewayError,
  type GatewayTarget,
  gatewayAnswers,
  gatewayClient,
  gatewayTarget,
} from "./gateway-client.js";
import { runDataRoots } from "../experiments/dataset-access.js";
import { startLocalStack } from "./local-stack.js";
import { formatResultsTable } from "../reports/results-terminal.js";
import { readSpecFile } from "./spec-file.js";
import { printProblems } from "./validate-command.js";

export const runUsage = `usage: ragtune run [SPEC] [options]
  SPEC               an experiment spec file (YAML or JSON; see examples/ and \`ragtune validate\`); without one,
                     the paper's grid from the options below
  --data DIR         folder with bioasq/, nq/, qasper/ (default: RAGTUNE_DATASETS_DIR, ../shared/datasets,
                     .ragtune/datasets; when none holds a dataset: the fictional demo corpus, written once into
                     .ragtune/demo-corpus/ — see \`ragtune demo-corpus\`)
  --datasets LIST    comma-separated from bioasq, nq-open, qasper (default: bioasq,nq-open; on the demo corpus
                     all three; the Qasper sample has 36 questions, too few for 200-pair pools: add it with
                     smaller --sizes)
  --sizes LIST       fine-tuning pool sizes, 0 = base model (default: 0,200,500,1000)
  --eval-size N      evaluation questions per dataset (default: 200; 0 = all not in a pool)
  --repeats N        judge repeats per answer (default: 10; logprob: 1, its only value)
  --model NAME       base model (default: extractive-reader); --backend NAME its generator backend (default: extractive)
  --judge-mode MODE  reference | single | n-sample | logprob (default: reference; LLM modes need JUDGE_OPENAI_BASE_URL)
  --seed N           split and sampling seed (default: 0)
  with a SPEC or without:
  --id ID            experiment id; an existing id resumes that run (default: <spec name or run>-<timestamp>)
  --out DIR          where the report goes (default: .ragtune/reports/<id>)
  --every S          without a terminal: a progress line at least every S seconds (default: 30)
  --human-ratings F  human ratings of the run's answers (JSONL/CSV: cell_key, item_id, criterion, score, rater; see
                     \`ragtune results --help\`): the judge's agreement with them is printed and written to the report
  --shape-only       with a SPEC: do not look at the dataset files (they are on the gateway's machine; give
                     absolute paths)
The run goes to the gateway at GATEWAY_URL, else to one answering at the default address (\`npm start\`), else
to a local stack started for this run. Ctrl-C detaches from a suite's run (it goes on; \`ragtune watch ID\`
re-attaches) and stops a local stack's run (\`--id ID\` resumes it).
`;

const judgeModes: Record<string, ScoringMode> = {
  reference: ScoringMode.REFERENCE,
  single: ScoringMode.SINGLE,
  "n-sample": ScoringMode.N_SAMPLE,
  logprob: ScoringMode.LOGPROB_WEIGHTED,
};

/** The options that describe the grid; a spec file describes it instead. */
const GRID_OPTIONS = ["data", "datasets", "sizes", "eval-size", "repeats", "model", "backend", "judge-mode", "seed"];

type SpecInit = MessageInitShape<typeof ExperimentSpecSchema>;

interface Plan {
  spec: SpecInit;
  about: string[];
  /** Default id prefix. */
  idPrefix: string;
  /** The command that runs this plan again, for "resume with" hints. */
  rerun: string;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
}

/** The stand-ins of a spec: every base model's backend and the judge's mode. */
function specStandIns(spec: SpecInit): StandIn[] {
  const mode = spec.judge?.mode ?? ScoringMode.UNSPECIFIED;
  const judgeMode = mode === ScoringMode.UNSPECIFIED || mode === ScoringMode.REFERENCE ? "reference" : "llm";
  const all = (spec.baseModels ?? []).flatMap((m) => standIns({ backend: m.backend ?? "", judgeMode }));
  if (!spec.baseModels?.length) all.push(...standIns({ backend: "", judgeMode }));
  return all.filter((s, i) => all.findIndex((t) => t.part === s.part) === i);
}

async function planFromSpecFile(file: string, stateDir: string, shapeOnly: boolean): Promise<Plan | number> {
  const read = await readSpecFile(file, { stateDir, checkFiles: !shapeOnly });
  if (printProblems(file, read.problems)) {
    console.error("nothing was started.");
    return 2;
  }
  const spec = read.spec!;
  const about = describeRun(
    { dir: read.demo?.dir ?? spec.datasets.map((d) => d.paths[0]).join(", "), demo: read.demo },
    specStandIns(spec),
  );
  const idPrefix =
    basename(file, extname(file))
      .replace(/[^A-Za-z0-9._-]+/g, "-")
      .slice(0, 40) || "run";
  return { spec, about, idPrefix, rerun: `ragtune run ${file}` };
}

async function planFromOptions(values: Record<string, string | boolean | undefined>, stateDir: string): Promise<Plan> {
  const asked = (values.datasets as string | undefined)?.split(",");
  const source = await resolveDataSource({
    data: values.data as string | undefined,
    datasets: asked ?? REAL_DATA_DEFAULT_DATASETS,
    stateDir,
  });
  const backend = (values.backend as string | undefined) ?? "extractive";
  const judgeModeName = (values["judge-mode"] as string | undefined) ?? "reference";
  const stand = standIns({ backend, judgeMode: judgeModeName });
  const datasets = (asked ?? (source.demo ? DEMO_DATASETS : REAL_DATA_DEFAULT_DATASETS)).map((format) => {
    const folder = join(source.dir, DATASET_FOLDERS[format] ?? format);
    if (!existsSync(folder)) {
      throw new Error(
        `dataset ${format}: ${folder} does not exist; fetch it with \`ragtune datasets download ${format}\` or pass --data`,
      );
    }
    return { format, name: format, paths: [folder] };
  });
  const judgeMode = judgeModes[judgeModeName];
  if (judgeMode === undefined) throw new Error(`--judge-mode must be one of ${Object.keys(judgeModes).join(", ")}`);
  const spec: SpecInit = {
    // The name heads the HTML report, so a demo run or a run on stand-ins says so there too.
    name: [
      "Fine-tuning or fine-failing? (paper grid)",
      source.demo ? "on the demo corpus (fictional data)" : "",
      stand.length ? `with stand-ins: ${stand.map((s) => `${s.part} = ${s.standIn}`).join("; ")}` : "",
    ]
      .filter(Boolean)
      .join(" "),
    datasets,
    baseModels: [{ baseModel: (values.model as string | undefined) ?? "extractive-reader", backend }],
    finetuneSizes: ((values.sizes as string | undefined) ?? "0,200,500,1000").split(",").map(Number),
    evalSize: Number(values["eval-size"] ?? "200"),
    seed: BigInt((values.seed as string | undefined) ?? "0"),
    // Unset: the spec's default, which depends on the mode (logprob takes 1).
    judge: { mode: judgeMode, repeats: Number(values.repeats ?? "0") },
  };
  return { spec, about: describeRun(source, stand), idPrefix: "run", rerun: "ragtune run (same options)" };
}

export async function runExperimentCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: "string" },
      datasets: { type: "string" },
      sizes: { type: "string" },
      "eval-size": { type: "string" },
      repeats: { type: "string" },
      model: { type: "string" },
      backend: { type: "string" },
      "judge-mode": { type: "string" },
      seed: { type: "string" },
      id: { type: "string" },
      out: { type: "string" },
      every: { type: "string" },
      "human-ratings": { type: "string" },
      "shape-only": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(runUsage);
    return 0;
  }
  const specFile = positionals[0];
  const mixed = GRID_OPTIONS.filter((o) => values[o as keyof typeof values] !== undefined);
  if (positionals.length > 1 || (specFile && mixed.length)) {
    const why = positionals.length > 1 ? "one spec file at a time" : `--${mixed.join(", --")} belong in the spec file`;
    process.stderr.write(`ragtune run: ${why}\n\n${runUsage}`);
    return 2;
  }
  const every = everyOption("run", values.every);
  if (every.error) {
    console.error(every.error);
    return 2;
  }
  const ratings = await readRatingsOption(values["human-ratings"]);
  if (typeof ratings === "string") {
    console.error(`ragtune run: ${ratings}\nnothing was started.`);
    return 2;
  }
  const stateDir = resolve(process.env.RAGTUNE_DATA_DIR || ".ragtune");
  const plan = specFile
    ? await planFromSpecFile(specFile, stateDir, values["shape-only"])
    : await planFromOptions(values, stateDir);
  if (typeof plan === "number") return plan;
  console.log(plan.about.join("\n"));
  const experimentId = values.id ?? `${plan.idPrefix}-${timestamp()}`;
  const rerun = `${plan.rerun} --id ${experimentId}`;

  let target: GatewayTarget = gatewayTarget();
  let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
  if (target.from !== "GATEWAY_URL" && !(await gatewayAnswers(target.url))) {
    console.log(`no suite answers at ${target.url}: starting a local stack of embedded defaults for this run…`);
    stack = await startLocalStack({
      dataDir: stateDir,
      // The stack serves this run only: its gateway may read the run's dataset folders besides its defaults.
      env: { ...process.env, GATEWAY_DATA_ROOTS: runDataRoots(plan.spec) },
      anyPort: true,
      onLog: (service, line) => {
        if (/"level":"(warn|error)"/.test(line) || !line.startsWith("{")) console.error(`[${service}] ${line}`);
      },
    });
    target = { url: stack.processes.find((p) => p.service.name === "gateway")!.url, from: "GATEWAY_URL" };
  }
  const detach = detachOnInterrupt();
  try {
    const gateway = gatewayClient(target.url);
    const { experiment: created } = await gateway.createExperiment({ experimentId, spec: plan.spec });
    console.log(`experiment ${experimentId}: ${created!.cellsTotal} cells on the gateway at ${target.url}`);
    await gateway.startExperiment({ experimentId });
    const end = await followExperiment({
      client: gateway,
      experimentId,
      out: process.stdout,
      detach: detach.signal,
      everyMs: every.ms,
    });
    if (end.how !== "finished") {
      if (stack) {
        // The run's gateway is this process's child: leaving means stopping it; the run is kept in stateDir.
        const why = end.how === "detached" ? "Ctrl-C" : `the local gateway stopped (${end.reason})`;
        console.error(
          `${why}: stopping the local stack. Experiment ${experimentId} is kept in ${stateDir}; \`${rerun}\` resumes it where it stopped.`,
        );
      } else {
        console.error(followEndLines(end, experimentId, target).join("\n"));
      }
      return end.how === "detached" ? 130 : 1;
    }
    const final = end.experiment;
    const { rows } = await gateway.getResults({ experimentId });
    const outDir = resolve(values.out ?? join(stateDir, "reports", experimentId));
    const files = await writeReport(outDir, final, rows, {
      about: plan.about,
      answers: gateway.exportAnswers({ experimentId }),
    });
    const aboutFile = join(outDir, "about-this-run.txt");
    await writeFile(aboutFile, `${plan.about.join("\n")}\n`);
    files.push(aboutFile);
    console.log(`\n${followEndLines(end, experimentId, target).join("\n")}\n`);
    process.stdout.write(formatResultsTable(rows));
    // The table names its stand-ins itself; what it cannot know (the demo corpus) is said again beside it.
    const data = plan.about.filter((line) => !line.startsWith("STAND-IN"));
    console.log(`\n${data.join("\n")}`);
    console.log(`\nreport: ${files.find((f) => f.endsWith(".html"))}`);
    console.log(`tables and answers: ${files.filter((f) => !f.endsWith(".html")).join(", ")}`);
    if (ratings) {
      const answers = gateway.exportAnswers({ experimentId });
      const path = await showAgreement({ option: ratings, answers, out: process.stdout, dir: outDir });
      console.log(`agreement with human ratings: ${path}`);
    }
    return final.state === ExperimentState.SUCCEEDED ? 0 : 1;
  } catch (error) {
    const e = ConnectError.from(error);
    console.error(`ragtune run: ${explainGatewayError(target, e)}`);
    if (e.code === Code.InvalidArgument) return 2;
    if (e.code === Code.AlreadyExists) console.error(`  pick another --id, or \`ragtune resume ${experimentId}\``);
    return 1;
  } finally {
    detach.dispose();
    await stack?.stop();
  }
}
