/**
 * The CLI of a running suite: list, status, watch, results, report, cancel and resume experiments on the
 * gateway at GATEWAY_URL (default: the address `npm start` uses), with RAGTUNE_AUTH_TOKEN.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Experiment, ExperimentState } from "@ragtune/contracts/gateway";
import { detachOnInterrupt, everyOption, type FollowEnd, followExperiment } from "./follow-experiment.js";
import { explainGatewayError, type GatewayTarget, gatewayClient, gatewayTarget } from "./gateway-client.js";
import { experimentUsage } from "./experiment-usage.js";
import { timeBreakdownLines } from "../reports/time-breakdown-view.js";
import { readRatingsOption, showAgreement } from "./human-ratings-option.js";
import { formatResults, RESULT_FORMATS, type ResultFormat } from "./results-format.js";

function when(e: Experiment, field: "createTime" | "updateTime"): string {
  const t = e[field];
  return t ? timestampDate(t).toISOString().replace("T", " ").slice(0, 19) : "";
}

export function statusLines(e: Experiment): string[] {
  const lines = [
    `experiment ${e.experimentId}: ${ExperimentState[e.state]}, ${e.cellsDone}/${e.cellsTotal} cells done`,
    `  name     ${e.spec?.name ?? ""}`,
    `  created  ${when(e, "createTime")} UTC, updated ${when(e, "updateTime")} UTC`,
  ];
  if (e.currentStage) lines.push(`  stage    ${e.currentStage}`);
  if (e.traceId) lines.push(`  trace    ${e.traceId}`);
  if (e.error) lines.push(`  errors   ${e.error.split("\n").join("\n           ")}`);
  lines.push(...timeBreakdownLines(e));
  return lines;
}

/** What to say when following ends other than by the run finishing (the run itself is never touched). */
export function followEndLines(end: FollowEnd, id: string, target: GatewayTarget): string[] {
  switch (end.how) {
    case "finished": {
      const e = end.experiment;
      return [
        `${ExperimentState[e.state]}: ${e.cellsDone}/${e.cellsTotal} cells${e.traceId ? `, trace ${e.traceId}` : ""}`,
        ...(e.error ? [`errors:\n  ${e.error.split("\n").join("\n  ")}`] : []),
      ];
    }
    case "detached":
      return [
        `detached from experiment ${id}; it goes on running on the gateway at ${target.url}.`,
        `  re-attach: ragtune watch ${id}    results so far: ragtune results ${id}    stop it: ragtune cancel ${id}`,
      ];
    case "lost":
      return [
        `lost the gateway at ${target.url} while following experiment ${id} (${end.reason}).`,
        "  The run's finished cells are kept with its state in NATS; nothing is redone when it resumes.",
        `  Once a gateway is up again (\`npm start\`), \`ragtune resume ${id}\` continues the run where it stopped` +
          " (a gateway that restarts on the same NATS resumes it by itself: `ragtune watch " +
          `${id}\` re-attaches).`,
      ];
  }
}

async function follow(id: string, target: GatewayTarget, everyMs: number | undefined): Promise<number> {
  const detach = detachOnInterrupt();
  try {
    const end = await followExperiment({
      client: gatewayClient(target.url),
      experimentId: id,
      out: process.stdout,
      detach: detach.signal,
      everyMs,
    });
    const lines = followEndLines(end, id, target);
    if (end.how === "finished") console.log(lines.join("\n"));
    else console.error(lines.join("\n"));
    if (end.how === "detached") return 130;
    return end.how === "finished" && end.experiment.state === ExperimentState.SUCCEEDED ? 0 : 1;
  } finally {
    detach.dispose();
  }
}

/** Runs one experiment command; returns the exit code. */
export async function experimentCommand(command: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: "string", default: "table" },
      out: { type: "string" },
      every: { type: "string" },
      "human-ratings": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(experimentUsage);
    return 0;
  }
  const id = positionals[0];
  if (command !== "list" && (!id || positionals.length > 1)) {
    process.stderr.write(
      `ragtune ${command}: give one experiment id (\`ragtune list\` shows them)\n\n${experimentUsage}`,
    );
    return 2;
  }
  if (!(RESULT_FORMATS as readonly string[]).includes(values.format)) {
    console.error(`ragtune results: --format must be one of ${RESULT_FORMATS.join(", ")}, got "${values.format}"`);
    return 2;
  }
  const every = everyOption(command, values.every);
  if (every.error) {
    console.error(every.error);
    return 2;
  }
  const ratings = await readRatingsOption(values["human-ratings"]);
  if (typeof ratings === "string") {
    console.error(`ragtune ${command}: ${ratings}`);
    return 2;
  }
  const target = gatewayTarget();
  const gateway = gatewayClient(target.url);
  try {
    switch (command) {
      case "list": {
        const { experiments } = await gateway.listExperiments({});
        if (!experiments.length) {
          console.log(`no experiments on the gateway at ${target.url}; start one with \`ragtune run SPEC\``);
          return 0;
        }
        console.log(
          `${"ID".padEnd(28)} ${"STATE".padEnd(10)} ${"CELLS".padStart(7)}  ${"CREATED (UTC)".padEnd(19)}  NAME`,
        );
        for (const e of experiments) {
          const cells = `${e.cellsDone}/${e.cellsTotal}`;
          console.log(
            `${e.experimentId.padEnd(28)} ${ExperimentState[e.state].padEnd(10)} ${cells.padStart(7)}  ${when(e, "createTime")}  ${e.spec?.name ?? ""}`,
          );
        }
        return 0;
      }
      case "status": {
        const { experiment } = await gateway.getExperiment({ experimentId: id });
        console.log(statusLines(experiment!).join("\n"));
        return 0;
      }
      case "watch": {
        // Asked first, so an unknown id is one NOT_FOUND line rather than a broken stream.
        await gateway.getExperiment({ experimentId: id });
        return await follow(id, target, every.ms);
      }
      case "resume": {
        const { experiment } = await gateway.startExperiment({ experimentId: id });
        console.log(
          `experiment ${id}: ${ExperimentState[experiment!.state]}, ${experiment!.cellsDone}/${experiment!.cellsTotal} cells done`,
        );
        return await follow(id, target, every.ms);
      }
      case "results": {
        const [{ experiment }, { rows }] = await Promise.all([
          gateway.getExperiment({ experimentId: id }),
          gateway.getResults({ experimentId: id }),
        ]);
        process.stdout.write(formatResults(experiment!, rows, values.format as ResultFormat));
        // Under a table; beside machine-readable output (stderr), so that output stays valid.
        if (ratings) {
          const out = values.format === "table" ? process.stdout : process.stderr;
          await showAgreement({ option: ratings, answers: gateway.exportAnswers({ experimentId: id }), out });
        }
        return 0;
      }
      case "report": {
        const [{ experiment }, { rows }] = await Promise.all([
          gateway.getExperiment({ experimentId: id }),
          gateway.getResults({ experimentId: id }),
        ]);
        const dir = resolve(values.out ?? join(process.env.RAGTUNE_DATA_DIR || ".ragtune", "reports", id));
        // Loaded here: the report writer is the heaviest module, and only this command needs it.
        const { writeReport } = await import("../reports/write-report.js");
        const files = await writeReport(dir, experiment!, rows, {
          answers: gateway.exportAnswers({ experimentId: id }),
        });
        const partial =
          experiment!.state === ExperimentState.SUCCEEDED
            ? ""
            : ` (${ExperimentState[experiment!.state]}: finished cells only)`;
        console.log(`report: ${files.find((f) => f.endsWith(".html"))}${partial}`);
        console.log(`tables and answers: ${files.filter((f) => !f.endsWith(".html")).join(", ")}`);
        if (ratings) {
          const answers = gateway.exportAnswers({ experimentId: id });
          const path = await showAgreement({ option: ratings, answers, out: process.stdout, dir });
          console.log(`agreement with human ratings: ${path}`);
        }
        return 0;
      }
      case "cancel": {
        const { experiment } = await gateway.cancelExperiment({ experimentId: id });
        console.log(
          `experiment ${id}: ${ExperimentState[experiment!.state]}, ${experiment!.cellsDone}/${experiment!.cellsTotal} cells done and kept; \`ragtune resume ${id}\` continues it`,
        );
        return 0;
      }
      default:
        process.stderr.write(experimentUsage);
        return 2;
    }
  } catch (error) {
    console.error(`ragtune ${command}: ${explainGatewayError(target, error)}`);
    return 1;
  }
}
