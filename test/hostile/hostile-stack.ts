/**
 * The services the hostile-input suite attacks (retriever, trainer, generator, judge, gateway; real NATS), each
 * its own process on a loopback port, with state planted first so the suite can prove it survived: a collection
 * with documents (and its search results), an experiment (created, not started), a registered node.
 */
import { ConnectError } from "@connectrpc/connect";
import { ExperimentService } from "@ragtune/contracts/gateway";
import { GeneratorService } from "@ragtune/contracts/generator";
import { Health } from "@ragtune/contracts/grpc-health";
import { JudgeService } from "@ragtune/contracts/judge";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { TrainerService } from "@ragtune/contracts/trainer";
import { createServiceClient } from "@ragtune/runtime";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "@ragtune/testing";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readerExperimentSpec } from "../support/reader-experiment.js";
import { startTestStack, type TestStack } from "../support/stack.js";
import { writeSyntheticBioAsq } from "../support/synthetic-bioasq.js";

export const HOSTILE_SERVICES = ["retriever", "trainer", "generator", "judge", "gateway"] as const;
export type HostileService = (typeof HOSTILE_SERVICES)[number];

export const SEED = {
  collection: "hostile-seed",
  experiment: "hostile-seed-exp",
  node: "hostile-seed-node",
  query: "alvestin kinase",
  judgeModel: "hostile-judge",
} as const;

const DOCUMENTS = ["kinase", "receptor", "channel", "protease"].map((topic, i) => ({
  id: `seed-${i}`,
  title: `On the ${topic}`,
  text: `Study ${i}: the compound alvestin binds the ${topic} ${"strongly ".repeat(i + 1)}in murine cells.`,
}));

/** The stack's processes, by the name a case uses. */
export interface RunningServices {
  stack: TestStack;
  logs: string[];
  natsUrl: string;
  url(name: string): string;
  stop(): Promise<void>;
}

export function clientsOf(services: RunningServices) {
  return {
    retriever: createServiceClient(RetrieverService, services.url("retriever")),
    trainer: createServiceClient(TrainerService, services.url("trainer")),
    generator: createServiceClient(GeneratorService, services.url("generator")),
    judge: createServiceClient(JudgeService, services.url("judge")),
    gateway: createServiceClient(ExperimentService, services.url("gateway")),
  };
}
export type HostileClients = ReturnType<typeof clientsOf>;

/**
 * Prefix of what a todo row creates when the service wrongly accepts it today; the state check leaves such
 * leftovers out (the row itself fails and says so), and counts everything else.
 */
export const ACCEPTED_BY_TODO_ROW = "hostile-todo-";

/** What the planted state looks like through the API; equal before and after the attack means it is intact. */
export async function snapshotState(clients: HostileClients) {
  const search = await clients.retriever.search({ collection: SEED.collection, query: SEED.query, topK: 10 });
  const stats = await clients.retriever.getCollectionStats({ name: SEED.collection });
  const { collections } = await clients.retriever.listCollections({});
  const { experiment } = await clients.gateway.getExperiment({ experimentId: SEED.experiment });
  const { experiments } = await clients.gateway.listExperiments({});
  const { jobs } = await clients.trainer.listJobs({});
  const { nodes } = await clients.trainer.listNodes({});
  return {
    search: search.results.map((r) => [r.chunk!.id, r.score]),
    stats: [stats.documentCount, stats.chunkCount, stats.totalCharacters],
    collections: collections.map((c) => c.name).sort(),
    experiment: [experiment!.state, experiment!.spec!.name, experiment!.cellsTotal],
    experiments: experiments
      .map((e) => e.experimentId)
      .filter((id) => !id.startsWith(ACCEPTED_BY_TODO_ROW))
      .sort(),
    jobs: jobs.map((j) => j.jobId).sort(),
    nodes: nodes.map((n) => n.nodeId).sort(),
  };
}

/** Every service answers its gRPC health check SERVING and its process is still the one started. */
export async function deadOrUnhealthy(services: RunningServices): Promise<string[]> {
  const problems: string[] = [];
  for (const name of HOSTILE_SERVICES) {
    const process = services.stack.processes.find((p) => p.service.name === name)!;
    if (process.child.exitCode !== null || process.child.signalCode !== null) {
      problems.push(`${name} exited (${process.child.exitCode ?? process.child.signalCode})`);
      continue;
    }
    try {
      const { status } = await createServiceClient(Health, services.url(name)).check({}, { timeoutMs: 5_000 });
      if (status !== 1) problems.push(`${name} health status ${status}`);
    } catch (error) {
      problems.push(`${name} health check: ${ConnectError.from(error).message}`);
    }
  }
  return problems;
}

/** A valid experiment spec on the stack's BioASQ folder, for rows that break one of its fields. */
export const validSpec = (dataDir: string) => readerExperimentSpec({ name: "hostile", dataDir, sizes: [0], seed: 1n });

async function plantState(clients: HostileClients, datasetDir: string): Promise<void> {
  await clients.retriever.createCollection({ name: SEED.collection, chunking: { chunkSize: 200, chunkOverlap: 20 } });
  await clients.retriever.ingestDocuments(
    (async function* () {
      yield { item: { case: "header" as const, value: { collection: SEED.collection } } };
      for (const value of DOCUMENTS) yield { item: { case: "document" as const, value } };
    })(),
  );
  await clients.gateway.createExperiment({
    experimentId: SEED.experiment,
    spec: { ...validSpec(datasetDir), name: SEED.experiment },
  });
  await clients.trainer.registerNode({
    node: { nodeId: SEED.node, hostname: "hostile", executors: ["cpu-reader"], hostMemoryBytes: 1n << 30n },
  });
}

export interface HostileStack {
  services: RunningServices;
  /** The BioASQ folder under the stack's data directory. */
  datasetDir: string;
  /** Where the generator unpacks adapters (GENERATOR_OPENAI_ADAPTER_DIR). */
  adapterDir: string;
  clients: HostileClients;
  model: FakeOpenAiServer;
  stop(): Promise<void>;
}

export async function startHostileStack(): Promise<HostileStack> {
  // The OpenAI-compatible test double plays the judge's model and the generator's "openai" backend.
  const model = await startFakeOpenAiServer({
    models: [{ id: SEED.judgeModel, maxModelLen: 100_000 }],
    respond: () => ({ tokens: ["Score: 4"] }),
  });
  // The folder the generator unpacks adapter archives into for the (fake) inference server.
  const adapterDir = mkdtempSync(join(tmpdir(), "ragtune-hostile-adapters-"));
  let stack: TestStack;
  try {
    stack = await startTestStack(
      {
        GENERATOR_OPENAI_ADAPTER_DIR: adapterDir,
        JUDGE_OPENAI_BASE_URL: model.baseUrl,
        JUDGE_MODEL: SEED.judgeModel,
        GENERATOR_OPENAI_BASE_URL: model.baseUrl,
      },
      // tsx compiles each service from source at start: on 2 busy cores that can take well over a minute.
      { startTimeoutMs: 150_000 },
    );
  } catch (error) {
    await model.close();
    rmSync(adapterDir, { recursive: true, force: true });
    throw error;
  }
  const services: RunningServices = {
    stack,
    logs: stack.logs,
    natsUrl: stack.natsUrl,
    url: (name) => stack.processes.find((p) => p.service.name === name)!.url,
    async stop() {
      await stack.stop();
      rmSync(adapterDir, { recursive: true, force: true });
    },
  };
  // Under a data folder the gateway reads (<data dir>/datasets).
  const datasetDir = join(stack.dataDir, "datasets", "bioasq");
  mkdirSync(datasetDir, { recursive: true });
  writeSyntheticBioAsq(datasetDir, 30);
  const clients = clientsOf(services);
  try {
    await plantState(clients, datasetDir);
  } catch (error) {
    await services.stop();
    await model.close();
    throw error;
  }
  return {
    services,
    datasetDir,
    adapterDir,
    clients,
    model,
    async stop() {
      await services.stop();
      await model.close();
    },
  };
}
