/**
 * The whole stack (gateway, retriever, trainer + node agent, generator, judge, real NATS) in front of one fake
 * OpenAI-compatible server that plays every model with a planted effect (see @ragtune/testing's planted-effect):
 * the generator's base model and its fine-tunes, the judge, and the agent's fine-tuning API. LoRA jobs run on the
 * agent's PEFT test stand-in (NODE_ENV=test): it writes a PEFT-layout adapter, which the generator unpacks into
 * a folder and has the fake server load at run time, as it would with vLLM.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FineTuneMethod } from "@ragtune/contracts/common";
import { type Experiment, ExperimentService, ExperimentState, type ResultRow } from "@ragtune/contracts/gateway";
import { ScoringMode } from "@ragtune/contracts/judge";
import { createServiceClient } from "@ragtune/runtime";
import {
  createPlantedEffect,
  type FakeOpenAiServer,
  type PlantedEffect,
  type PlantedItem,
  type PlantedRun,
  startFakeOpenAiServer,
} from "@ragtune/testing";
import { startTestStack, type TestStack } from "./stack.js";
import { writeSyntheticBioAsq } from "./synthetic-bioasq.js";

export const PLANTED_BASE_MODEL = "planted-base-1b";
export const PLANTED_JUDGE_MODEL = "planted-judge";

export interface PlantedStack {
  stack: TestStack;
  fake: FakeOpenAiServer;
  planted: PlantedEffect;
  /** The BioASQ folder the experiments read. */
  datasetDir: string;
  /** The folder the generator unpacks LoRA adapters into for the (fake) inference server. */
  adapterDir: string;
  stop(): Promise<void>;
}

/** Right and wrong answers of each question of the file the synthetic writer made (a wrong one is another's). */
export function plantedItems(path: string): PlantedItem[] {
  const { questions } = JSON.parse(readFileSync(path, "utf8")) as {
    questions: Array<{ body: string; exact_answer: string[][] }>;
  };
  const answers = [...new Set(questions.map((q) => q.exact_answer[0][0]))];
  return questions.map((q) => {
    const answer = q.exact_answer[0][0];
    return { question: q.body, answer, wrongAnswer: answers[(answers.indexOf(answer) + 1) % answers.length] };
  });
}

export async function startPlantedStack(options: { questions: number }): Promise<PlantedStack> {
  let planted: PlantedEffect | undefined;
  const fake = await startFakeOpenAiServer({
    models: [
      { id: PLANTED_BASE_MODEL, maxModelLen: 16_384 },
      { id: PLANTED_JUDGE_MODEL, maxModelLen: 16_384 },
    ],
    fineTuning: { pollsToSucceed: 2 },
    respond: (input) => planted!.respond(input),
  });
  const adapterDir = mkdtempSync(join(tmpdir(), "ragtune-lora-dir-"));
  let stack: TestStack;
  try {
    stack = await startTestStack({
      NODE_ENV: "test",
      // The agent: hosted fine-tunes through the fake API, LoRA jobs on the PEFT test stand-in.
      AGENT_EXECUTORS: "cpu-reader,peft,openai",
      AGENT_PEFT_TEST_STAND_IN: "1",
      OPENAI_BASE_URL: fake.baseUrl,
      AGENT_OPENAI_POLL_MS: "50",
      GENERATOR_OPENAI_BASE_URL: fake.baseUrl,
      GENERATOR_OPENAI_ADAPTER_DIR: adapterDir,
      JUDGE_OPENAI_BASE_URL: fake.baseUrl,
      JUDGE_MODEL: PLANTED_JUDGE_MODEL,
    });
  } catch (error) {
    await fake.close();
    rmSync(adapterDir, { recursive: true, force: true });
    throw error;
  }
  const datasetDir = join(stack.dataDir, "bioasq");
  mkdirSync(datasetDir, { recursive: true });
  planted = createPlantedEffect({
    items: plantedItems(writeSyntheticBioAsq(datasetDir, options.questions)),
    judgeModel: PLANTED_JUDGE_MODEL,
  });
  return {
    stack,
    fake,
    planted,
    datasetDir,
    adapterDir,
    async stop() {
      await stack.stop();
      await fake.close();
      rmSync(adapterDir, { recursive: true, force: true });
    },
  };
}

export interface PlantedExperiment {
  experiment: Experiment;
  rows: ResultRow[];
}

/** Runs one experiment (base, a hosted fine-tune and a LoRA fine-tune of one pool) through the gateway's gRPC API. */
export async function runPlantedExperiment(
  planted: PlantedStack,
  options: { experimentId: string; run: PlantedRun; poolSize: number; evalSize: number; repeats: number },
): Promise<PlantedExperiment> {
  planted.planted.setRun(options.run);
  const url = planted.stack.processes.find((p) => p.service.name === "gateway")!.url;
  const gateway = createServiceClient(ExperimentService, url);
  await gateway.createExperiment({
    experimentId: options.experimentId,
    spec: {
      name: options.experimentId,
      datasets: [{ format: "bioasq", paths: [planted.datasetDir] }],
      baseModels: [{ baseModel: PLANTED_BASE_MODEL, backend: "openai" }],
      finetuneSizes: [0, options.poolSize],
      methods: [FineTuneMethod.HOSTED, FineTuneMethod.LORA],
      evalSize: options.evalSize,
      seed: BigInt(options.run.seed),
      judge: {
        model: { baseModel: PLANTED_JUDGE_MODEL, backend: "openai" },
        mode: ScoringMode.SINGLE,
        repeats: options.repeats,
      },
    },
  });
  await gateway.startExperiment({ experimentId: options.experimentId });
  let experiment: Experiment | undefined;
  try {
    // Bounded: a cell that can never run (a job no node can take) fails the test with the logs, not a hang.
    const updates = gateway.watchExperiment({ experimentId: options.experimentId }, { timeoutMs: 300_000 });
    for await (const update of updates) experiment = update.experiment;
  } catch (error) {
    throw new Error(
      `watching ${options.experimentId}: ${(error as Error).message} at "${experiment?.currentStage}"\n${planted.stack.logs.slice(-30).join("\n")}`,
    );
  }
  if (experiment?.state !== ExperimentState.SUCCEEDED) {
    throw new Error(
      `experiment ${options.experimentId} ended ${experiment ? ExperimentState[experiment.state] : "unseen"}: ${experiment?.error}\n${planted.stack.logs.slice(-30).join("\n")}`,
    );
  }
  const { rows } = await gateway.getResults({ experimentId: options.experimentId });
  return { experiment, rows };
}
