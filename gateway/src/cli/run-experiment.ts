/**
 * `ragtune run`: the main job. Runs the paper's grid (datasets × base model × fine-tune sizes 0/200/500/1000)
 * end to end on whatever stack answers at GATEWAY_URL, or on a local stack of embedded defaults started for the
 * run: extractive reader as the model, CPU fine-tuning of its scorer, LanceDB BM25 retrieval, the reference
 * scorer as judge. Writes results.csv, results.json and report.html.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ExperimentService, ExperimentState } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import { createServiceClient } from "@ragtune/runtime";
import { writeReport } from "../reports/write-report.js";
import { methodLabel } from "../reports/results-csv.js";
import {
  DATASET_FOLDERS,
  DEMO_DATASETS,
  describeRun,
  REAL_DATA_DEFAULT_DATASETS,
  resolveDataSource,
  standIns,
} from "./data-source.js";
import { startLocalStack } from "./local-stack.js";

export const runUsage = `usage: ragtune run [options]
  --data DIR         folder with bioasq/, nq/, qasper/ (default: RAGTUNE_DATASETS_DIR, ../shared/datasets,
                     .ragtune/datasets; when none holds a dataset: the fictional demo corpus, written once into
                     .ragtune/demo-corpus/ — see \`ragtune demo-corpus\`)
  --datasets LIST    comma-separated from bioasq, nq-open, qasper (default: bioasq,nq-open; on the demo corpus
                     all three; the Qasper sample has 36 questions, too few for 200-pair pools: add it with
                     smaller --sizes)
  --sizes LIST       fine-tuning pool sizes, 0 = base model (default: 0,200,500,1000)
  --eval-size N      evaluation questions per dataset (default: 200; 0 = all not in a pool)
  --repeats N        judge repeats per answer (default: 10)
  --model NAME       base model (default: extractive-reader); --backend NAME its generator backend (default: extractive)
  --judge-mode MODE  reference | single | n-sample | logprob (default: reference; LLM modes need JUDGE_OPENAI_BASE_URL)
  --seed N           split and sampling seed (default: 0)
  --id ID            experiment id; an existing id resumes that run (default: run-<timestamp>)
  --out DIR          where the report goes (default: .ragtune/reports/<id>)
`;

const judgeModes: Record<string, ScoringMode> = {
  reference: ScoringMode.REFERENCE,
  single: ScoringMode.SINGLE,
  "n-sample": ScoringMode.N_SAMPLE,
  logprob: ScoringMode.LOGPROB_WEIGHTED,
};

export async function runExperimentCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: "string" },
      datasets: { type: "string" },
      sizes: { type: "string", default: "0,200,500,1000" },
      "eval-size": { type: "string", default: "200" },
      repeats: { type: "string", default: "10" },
      model: { type: "string", default: "extractive-reader" },
      backend: { type: "string", default: "extractive" },
      "judge-mode": { type: "string", default: "reference" },
      seed: { type: "string", default: "0" },
      id: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(runUsage);
    return 0;
  }
  const stateDir = resolve(process.env.RAGTUNE_DATA_DIR || ".ragtune");
  const asked = values.datasets?.split(",");
  const source = await resolveDataSource({
    data: values.data,
    datasets: asked ?? REAL_DATA_DEFAULT_DATASETS,
    stateDir,
  });
  const stand = standIns({ backend: values.backend, judgeMode: values["judge-mode"] });
  const about = describeRun(source, stand);
  console.log(about.join("\n"));
  const datasets = (asked ?? (source.demo ? DEMO_DATASETS : REAL_DATA_DEFAULT_DATASETS)).map((format) => {
    const folder = join(source.dir, DATASET_FOLDERS[format] ?? format);
    if (!existsSync(folder)) {
      throw new Error(
        `dataset ${format}: ${folder} does not exist; fetch it with \`ragtune datasets download ${format}\` or pass --data`,
      );
    }
    return { format, name: format, paths: [folder] };
  });
  const judgeMode = judgeModes[values["judge-mode"]];
  if (judgeMode === undefined) throw new Error(`--judge-mode must be one of ${Object.keys(judgeModes).join(", ")}`);
  const experimentId =
    values.id ?? `run-${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-")}`;

  let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
  let gatewayUrl = process.env.GATEWAY_URL;
  if (!gatewayUrl) {
    console.log("starting a local stack of embedded defaults…");
    stack = await startLocalStack({
      dataDir: stateDir,
      anyPort: true,
      onLog: (service, line) => {
        if (/"level":"(warn|error)"/.test(line) || !line.startsWith("{")) console.error(`[${service}] ${line}`);
      },
    });
    gatewayUrl = stack.processes.find((p) => p.service.name === "gateway")!.url;
  }
  const stopStack = () => stack?.stop();
  process.once("SIGINT", () => void Promise.resolve(stopStack()).then(() => process.exit(130)));
  try {
    const gateway = createServiceClient(ExperimentService, gatewayUrl, { authToken: process.env.RAGTUNE_AUTH_TOKEN });
    const { experiment: created } = await gateway.createExperiment({
      experimentId,
      spec: {
        // The name heads the HTML report, so a demo run or a run on stand-ins says so there too.
        name: [
          "Fine-tuning or fine-failing? (paper grid)",
          source.demo ? "on the demo corpus (fictional data)" : "",
          stand.length ? `with stand-ins: ${stand.map((s) => `${s.part} = ${s.standIn}`).join("; ")}` : "",
        ]
          .filter(Boolean)
          .join(" "),
        datasets,
        baseModels: [{ baseModel: values.model, backend: values.backend }],
        finetuneSizes: values.sizes.split(",").map(Number),
        evalSize: Number(values["eval-size"]),
        seed: BigInt(values.seed),
        judge: { mode: judgeMode, repeats: Number(values.repeats) },
      },
    });
    console.log(
      `experiment ${created!.experimentId}: ${created!.cellsTotal} cells (resume with --id ${created!.experimentId})`,
    );
    await gateway.startExperiment({ experimentId });
    let lastStage = "";
    let final = created!;
    for await (const { experiment } of gateway.watchExperiment({ experimentId })) {
      final = experiment!;
      if (final.currentStage && final.currentStage !== lastStage) {
        lastStage = final.currentStage;
        console.log(`[${final.cellsDone}/${final.cellsTotal}] ${lastStage}`);
      }
    }
    const { rows } = await gateway.getResults({ experimentId });
    const outDir = resolve(values.out ?? join(".ragtune/reports", experimentId));
    const files = await writeReport(outDir, final, rows);
    const aboutFile = join(outDir, "about-this-run.txt");
    await writeFile(aboutFile, `${about.join("\n")}\n`);
    files.push(aboutFile);
    console.log(
      `\n${ExperimentState[final.state]} — ${final.cellsDone}/${final.cellsTotal} cells, trace ${final.traceId}`,
    );
    if (final.error) console.log(`errors:\n  ${final.error.split("\n").join("\n  ")}`);
    console.log("\ndataset      method  size  criterion      n   mean [95% CI]        Δ vs base [95% CI]");
    for (const r of rows) {
      const s = r.score!;
      const diff =
        r.finetuneSize === 0
          ? ""
          : `${r.diffVsBase >= 0 ? "+" : ""}${r.diffVsBase.toFixed(2)} [${r.diffCi95Low.toFixed(2)}, ${r.diffCi95High.toFixed(2)}]`;
      console.log(
        `${r.dataset.padEnd(12)} ${methodLabel(r).padEnd(7)} ${String(r.finetuneSize).padStart(4)}  ${r.criterion.padEnd(13)} ${String(s.n).padStart(4)}  ${s.mean.toFixed(2)} [${s.ci95Low.toFixed(2)}, ${s.ci95High.toFixed(2)}]  ${diff}`,
      );
    }
    console.log(`\n${about.join("\n")}`);
    console.log(`\nreport: ${files.join(", ")}`);
    return final.state === ExperimentState.SUCCEEDED ? 0 : 1;
  } finally {
    await stopStack();
  }
}
