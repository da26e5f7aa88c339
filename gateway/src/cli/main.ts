#!/usr/bin/env node
/** The `ragtune` command line. */
import { HealthCheckResponse_ServingStatus as Status, Health } from "@ragtune/contracts/grpc-health";
import { spawn } from "node:child_process";
import { serverServices, serviceNodeArgs, stackServices } from "../stack.js";
import { EXPERIMENT_COMMANDS, experimentUsage } from "./experiment-usage.js";
import { cliClient } from "./gateway-client.js";

// Each command's module is loaded when it runs: `ragtune list` should not wait for the dataset loaders.
const args = process.argv.slice(3);
const experimentCommand = async (name: string) =>
  (await import("./experiment-commands.js")).experimentCommand(name, args);

const usage = `usage: ragtune <command>

commands:
  run       the main job: run the paper's experiment grid end to end and write its report (run --help);
            \`run SPEC\` runs the experiment a YAML or JSON file describes (see examples/)
  validate  check spec files: every problem with its path in the file, exit code 2 if any
  up        start NATS (if none answers at NATS_URL) and every service; Ctrl-C stops them
  status    health of every service at its address (<SERVICE>_URL or the local default); status ID: an experiment
  agent     run a trainer node agent on this machine (TRAINER_URL, AGENT_* settings)
  datasets  download, split and verify datasets (datasets --help)
  demo-corpus  write the fictional demo corpus (demo-corpus --help); run uses it when no datasets are found

${experimentUsage}`;

async function up(): Promise<void> {
  const { startLocalStack } = await import("./local-stack.js");
  const verbose = process.argv.includes("--verbose");
  const stack = await startLocalStack({
    dataDir: process.env.RAGTUNE_DATA_DIR || ".ragtune",
    onLog: (service, line) => {
      if (verbose || /"level":"(warn|error)"/.test(line) || !line.startsWith("{"))
        console.error(`[${service}] ${line}`);
    },
  });
  console.log(`NATS        ${stack.natsUrl}`);
  for (const p of stack.processes) console.log(`${p.service.name.padEnd(11)} ${p.url || "(node agent, CPU)"}`);
  console.log("ragtune is up; Ctrl-C stops it.");
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log("stopping…");
    await stack.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  for (const p of stack.processes) {
    p.child.once("exit", (code) => {
      if (stopping) return;
      console.error(`${p.service.name} exited unexpectedly (code ${code}); stopping the stack`);
      void stack.stop().then(() => process.exit(1));
    });
  }
}

async function status(): Promise<number> {
  let failures = 0;
  for (const service of serverServices) {
    const url = process.env[`${service.name.toUpperCase()}_URL`] || `http://${service.defaultAddr}`;
    const health = cliClient(Health, url);
    try {
      const res = await health.check({ service: "" }, { timeoutMs: 2000 });
      console.log(`${service.name.padEnd(11)} ${url}  ${Status[res.status]}`);
      if (res.status !== Status.SERVING) failures++;
    } catch (error) {
      console.log(`${service.name.padEnd(11)} ${url}  DOWN (${(error as Error).message})`);
      failures++;
    }
  }
  return failures ? 1 : 0;
}

const command = process.argv[2];
try {
  switch (command) {
    case "up":
      await up();
      break;
    case "status":
      process.exit(args[0] ? await experimentCommand("status") : await status());
      break;
    case "validate":
      process.exit(await (await import("./validate-command.js")).validateCommand(args));
      break;
    case "datasets":
      process.exit(await (await import("./datasets-command.js")).datasetsCommand(args));
      break;
    case "demo-corpus":
      process.exit(await (await import("./demo-corpus-command.js")).demoCorpusCommand(args));
      break;
    case "conformance":
      process.exit(await (await import("./conformance-command.js")).conformanceCommand(args));
      break;
    case "run":
      process.exit(await (await import("./run-experiment.js")).runExperimentCommand(args));
      break;
    case "agent": {
      // The agent is the trainer's program; run it as its own process with this command's flags and env.
      const agent = stackServices.find((s) => s.name === "agent")!;
      const child = spawn(process.execPath, [...serviceNodeArgs(agent), ...process.argv.slice(3)], {
        stdio: "inherit",
      });
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
      child.on("exit", (code) => process.exit(code ?? 1));
      break;
    }
    default:
      if (EXPERIMENT_COMMANDS.includes(command)) {
        process.exit(await experimentCommand(command));
      }
      process.stdout.write(usage);
      process.exit(command === undefined || command === "help" || command === "--help" ? 0 : 2);
  }
} catch (error) {
  console.error(`ragtune ${command}: ${(error as Error).message}`);
  process.exit(1);
}
