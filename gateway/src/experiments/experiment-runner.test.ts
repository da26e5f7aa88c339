/**
 * The runner over test doubles of the four services (in-process transports; the real services are run by the
 * end-to-end tests): the spec's generation settings reach the generator, fine-tunes run in parallel, one cell's
 * generation does not wait for another's judging, stage progress is counted per item, calls that fail
 * UNAVAILABLE are retried to the same results, a run that keeps crashing its gateways fails after N
 * adoptions, and nothing the runner does ends the process with an unhandled rejection.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { FineTuneMethod, SpreadSchema } from "@ragtune/contracts/common";
import { type Experiment, ExperimentSchema, ExperimentState } from "@ragtune/contracts/gateway";
import { type GenerateRequest, GeneratorService } from "@ragtune/contracts/generator";
import { CriterionScoreSchema, JudgeService, ScoreResponseSchema, ScoringMode } from "@ragtune/contracts/judge";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { JobSchema, JobState, TrainerService } from "@ragtune/contracts/trainer";
import { writeDemoCorpus } from "@ragtune/demo-corpus";
import { createLogger, type Lease } from "@ragtune/runtime";
import { type CellResultStore, createMemoryCellResultStore } from "./cell-results.js";
import { ExperimentRunner } from "./experiment-runner.js";
import { countCells, withDefaults } from "./experiment-spec.js";
import { createMemoryExperimentStore, type ExperimentStore } from "./experiment-store.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ragtune-runner-"));
  await writeDemoCorpus(join(dir, "corpus"));
  process.env.RAGTUNE_DATASETS_DIR = dir; // the runner reads datasets under its data roots only
});
after(() => rm(dir, { recursive: true, force: true }));

/** Opens when released; what a test double waits on to hold a call. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

interface Doubles {
  generated: GenerateRequest[];
  submitted: string[];
  judgeCalls: number;
  log: string[];
  /** Fails the next n calls of a method (by local name) with UNAVAILABLE. */
  unavailable: Map<string, number>;
  /** Held until opened: a job's end, by job id suffix; a judge call, by cell (adapter) suffix. */
  holdJob?: (jobId: string) => Promise<void>;
  holdJudge?: (firstAnswer: string) => Promise<void>;
  /** Refuses generation for an adapter, as a backend refuses a model it does not have. */
  refuseAdapter?: string;
  /** Generate calls in flight now and at most, and how long each takes. */
  generateMs: number;
  generating: number;
  peakGenerating: number;
}

/** Waits for a condition the run reaches on its own; a runner that serialises never does, and fails here. */
async function until(what: string, condition: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function doubles(): Doubles {
  return {
    generated: [],
    submitted: [],
    judgeCalls: 0,
    log: [],
    unavailable: new Map(),
    generateMs: 2,
    generating: 0,
    peakGenerating: 0,
  };
}

function failIfAsked(d: Doubles, method: string) {
  const left = d.unavailable.get(method) ?? 0;
  if (left > 0) {
    d.unavailable.set(method, left - 1);
    throw new ConnectError("test double: restarting", Code.Unavailable);
  }
}

function backends(d: Doubles) {
  return createRouterTransport(({ service }) => {
    service(RetrieverService, {
      createCollection: async () => ({}),
      getCollectionStats: async () => ({ documentCount: 0n }),
      ingestDocuments: async (requests) => {
        for await (const _ of requests);
        failIfAsked(d, "ingestDocuments"); // after the stream was read: the retriever went away mid-ingest
        return {};
      },
      search: async (req) => {
        failIfAsked(d, "search");
        return { results: [{ chunk: { id: `c-${req.query.length}`, text: `about: ${req.query}` }, score: 1 }] };
      },
    });
    service(TrainerService, {
      submitJob: async (req) => {
        failIfAsked(d, "submitJob");
        d.submitted.push(req.jobId);
        d.log.push(`submit ${req.jobId}`);
        return {};
      },
      async *watchJob(req) {
        failIfAsked(d, "watchJob");
        await d.holdJob?.(req.jobId);
        yield { job: create(JobSchema, { jobId: req.jobId, state: JobState.SUCCEEDED, adapterId: `ad-${req.jobId}` }) };
      },
    });
    service(GeneratorService, {
      generate: async (req) => {
        failIfAsked(d, "generate");
        if (d.refuseAdapter && req.model?.adapter.includes(d.refuseAdapter)) {
          throw new ConnectError(`test double: no adapter ${req.model.adapter}`, Code.InvalidArgument);
        }
        d.generated.push(req);
        d.log.push(`generate ${req.model?.adapter || "base"}`);
        d.peakGenerating = Math.max(d.peakGenerating, ++d.generating);
        await new Promise((resolve) => setTimeout(resolve, d.generateMs));
        d.generating--;
        return { answer: `${req.question.slice(0, 20)} ${req.model?.adapter ?? ""}`, latencySeconds: 0.01 };
      },
    });
    service(JudgeService, {
      scoreBatch: async (req) => {
        failIfAsked(d, "scoreBatch");
        d.judgeCalls++;
        await d.holdJudge?.(req.items[0].answer);
        d.log.push(`judge ${req.items.length}`);
        return {
          results: req.items.map((item) =>
            create(ScoreResponseSchema, {
              itemId: item.itemId,
              scores: req.criteria.map((criterion) =>
                create(CriterionScoreSchema, {
                  criterion,
                  spread: create(SpreadSchema, { n: 1, mean: 1 + ((item.answer.length + criterion.length) % 5) }),
                }),
              ),
            }),
          ),
        };
      },
    });
  });
}

const FAST_RETRY = {
  attempts: 6,
  baseBackoffMs: 1,
  maxBackoffMs: 5,
  totalMs: 5000,
  callTimeoutMs: 5000,
  streamTimeoutMs: 10_000,
};

function runner(
  d: Doubles,
  store: ExperimentStore,
  options: {
    retry?: typeof FAST_RETRY;
    maxAdoptions?: number;
    cells?: CellResultStore;
    leaseFor?: (experimentId: string) => Lease;
  } = {},
) {
  const transport = backends(d);
  const logs: string[] = [];
  const logger = createLogger("runner-test", { level: "debug", write: (line) => logs.push(line) });
  const cells = options.cells ?? createMemoryCellResultStore();
  const instance = new ExperimentRunner({
    store,
    cells,
    clients: {
      retriever: createClient(RetrieverService, transport),
      trainer: createClient(TrainerService, transport),
      generator: createClient(GeneratorService, transport),
      judge: createClient(JudgeService, transport),
    },
    workDir: join(dir, "work"),
    logger,
    retry: options.retry ?? FAST_RETRY,
    maxAdoptions: options.maxAdoptions,
    leaseFor: options.leaseFor,
    progressEveryMs: 10,
  });
  return { instance, cells, logs };
}

const baseSpec = (extra: Record<string, unknown> = {}) =>
  withDefaults(
    create(ExperimentSchema, {
      spec: {
        name: "runner",
        datasets: [{ format: "bioasq", name: "bioasq", paths: [join(dir, "corpus", "bioasq")] }],
        baseModels: [{ baseModel: "m", backend: "test" }],
        finetuneSizes: [0, 5, 10],
        methods: [FineTuneMethod.LORA],
        evalSize: 60,
        seed: 3n,
        judge: { mode: ScoringMode.REFERENCE, repeats: 1 },
        ...extra,
      },
    }).spec!,
  );

async function created(store: ExperimentStore, id: string, spec = baseSpec(), state = ExperimentState.CREATED) {
  await store.insert(
    create(ExperimentSchema, {
      experimentId: id,
      spec,
      state,
      cellsTotal: countCells(spec),
      createTime: { seconds: 1_800_000_000n }, // fixed: the split manifest records it
    }),
  );
}

async function finished(store: ExperimentStore, id: string): Promise<Experiment> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 20_000);
  try {
    for await (const e of store.watch(id, controller.signal)) {
      if (e.state !== ExperimentState.RUNNING && e.state !== ExperimentState.CREATED) return e;
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`${id} did not finish`);
}

describe("experiment runner", () => {
  it("generates with the spec's sampling settings, and counts every stage's items", async () => {
    const d = doubles();
    const store = createMemoryExperimentStore();
    const spec = baseSpec({
      finetuneSizes: [0],
      generation: { sampling: { temperature: 0.7, topP: 0.9, maxTokens: 64, seed: 42n }, templateId: "rag-default@1" },
    });
    await created(store, "settings", spec);
    const { instance } = runner(d, store);
    await instance.start("settings");
    const end = await finished(store, "settings");
    assert.equal(end.state, ExperimentState.SUCCEEDED, end.error);
    assert.equal(d.generated.length, 60);
    for (const req of d.generated) {
      assert.equal(req.sampling?.temperature, 0.7);
      assert.equal(req.sampling?.topP, 0.9);
      assert.equal(req.sampling?.maxTokens, 64);
      assert.equal(req.sampling?.seed, 42n);
      assert.equal(req.templateId, "rag-default@1");
    }
    const stages = Object.fromEntries(end.stages.map((s) => [s.stage, `${s.done}/${s.total}`]));
    assert.equal(stages.generate, "60/60");
    assert.equal(stages.judge, "60/60");
    assert.match(stages.retrieve, /^(\d+)\/\1$/);
    assert.ok(Number(stages.retrieve.split("/")[0]) >= 60);
  });

  it("keeps the spec's calls in flight per backend, and raises them in adaptive mode while the backend keeps up", async () => {
    const peak = async (adaptiveConcurrency: boolean) => {
      const d = doubles();
      d.generateMs = 25; // long beside a busy machine's timer jitter, so latency "holds" when it does
      const store = createMemoryExperimentStore();
      const spec = baseSpec({
        finetuneSizes: [0],
        evalSize: 200,
        backendConcurrency: [{ backend: "test", generate: 2 }],
        adaptiveConcurrency,
      });
      await created(store, "limits", spec);
      const { instance } = runner(d, store);
      await instance.start("limits");
      const end = await finished(store, "limits");
      assert.equal(end.state, ExperimentState.SUCCEEDED, end.error);
      return d.peakGenerating;
    };
    assert.equal(await peak(false), 2);
    // How far it grows is the limit's own test (on a fake clock); here: the spec turns it on for the backend.
    assert.ok((await peak(true)) > 2, "a backend answering in 25 ms at any load gets more calls at once");
  });

  it("answers at most a few judge batches ahead of a slow answer store, then finishes", async () => {
    const d = doubles();
    const store = createMemoryExperimentStore();
    await created(store, "backpressure", baseSpec({ finetuneSizes: [0], evalSize: 260 }));
    const release = gate();
    const memory = createMemoryCellResultStore();
    // The store takes the first record, then stalls until released.
    const cells: CellResultStore = {
      ...memory,
      writeAnswers: (experimentId, cellKey, records) =>
        memory.writeAnswers(
          experimentId,
          cellKey,
          (async function* () {
            let first = true;
            for await (const record of records) {
              yield record;
              if (first) await release.opened;
              first = false;
            }
          })(),
        ),
    };
    const { instance } = runner(d, store, { cells });
    await instance.start("backpressure");
    await until("generation to reach the writer's allowance", () => d.generated.length >= 200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // 1 judge slot + 1 batch of 8 generate slots + 2 spare = 4 batches of 50 ahead of the writer (at batch 0).
    assert.equal(d.generated.length, 200, "generation waits for the store instead of piling answers up");
    release.open();
    const end = await finished(store, "backpressure");
    assert.equal(end.state, ExperimentState.SUCCEEDED, end.error);
    assert.equal(d.generated.length, 260);
  });

  it("runs fine-tunes in parallel, and evaluates the base cell while they train", async () => {
    const d = doubles();
    const store = createMemoryExperimentStore();
    await created(store, "parallel");
    const release = gate();
    // No job ends before both are submitted and the base cell is judged: a serial runner never gets there.
    d.holdJob = () => release.opened;
    const { instance } = runner(d, store);
    await instance.start("parallel");
    await until(
      "both jobs submitted and the base cell judged while no job has ended",
      () => d.submitted.length >= 2 && d.log.filter((l) => l.startsWith("judge")).length >= 2,
    );
    assert.ok(
      d.log.every((l) => !l.startsWith("generate ad-")),
      "no tuned cell generated before its job ended",
    );
    release.open();
    const end = await finished(store, "parallel");
    assert.equal(end.state, ExperimentState.SUCCEEDED, end.error);
    assert.equal(end.cellsDone, 3);
    assert.equal(end.stages.find((s) => s.stage === "train")?.done, 2n);
  });

  it("one cell's generation does not wait for another cell's judging", async () => {
    const d = doubles();
    const store = createMemoryExperimentStore();
    await created(store, "overlap", baseSpec({ finetuneSizes: [0, 5] }));
    const release = gate();
    // The base cell's answers (no adapter) are held at the judge; the tuned cell must still generate all of its.
    d.holdJudge = (firstAnswer) => (firstAnswer.endsWith(" ") ? release.opened : Promise.resolve());
    const { instance } = runner(d, store);
    await instance.start("overlap");
    await until(
      "the tuned cell generated every answer while the base cell's judging is held",
      () => d.log.filter((l) => l.startsWith("generate ad-")).length >= 60,
    );
    release.open();
    const end = await finished(store, "overlap");
    assert.equal(end.state, ExperimentState.SUCCEEDED, end.error);
  });

  it("retries calls that fail UNAVAILABLE, to the same results as a run without faults", async () => {
    const results = async (unavailable: [string, number][]) => {
      const id = "same-id"; // in a store of its own each time: job, adapter and manifest ids match
      const d = doubles();
      for (const [method, n] of unavailable) d.unavailable.set(method, n);
      const store = createMemoryExperimentStore();
      await created(store, id);
      const { instance, cells } = runner(d, store);
      await instance.start(id);
      const end = await finished(store, id);
      assert.equal(end.state, ExperimentState.SUCCEEDED, end.error);
      const all = await cells.list(id);
      const kept = [];
      for (const { finishTime: _t, generationLatencySeconds: _l, ...rest } of all) {
        const answers: string[] = []; // streamed to the store as they were judged
        for await (const a of cells.answers(id, rest.cellKey)) {
          answers.push(`${a.itemId} ${a.answer} ${JSON.stringify(a.scores)}`);
        }
        kept.push({ ...rest, answers });
      }
      return kept.sort((a, b) => a.cellKey.localeCompare(b.cellKey));
    };
    const clean = await results([]);
    const faulty = await results([
      ["ingestDocuments", 2],
      ["search", 3],
      ["submitJob", 2],
      ["watchJob", 3],
      ["generate", 5],
      ["scoreBatch", 4],
    ]);
    assert.equal(clean.length, 3);
    assert.ok(clean.every((c) => c.answers.length === 60));
    assert.deepEqual(faulty, clean);
  });

  it("fails a cell, not the run, for a refusal a retry cannot fix", async () => {
    const d = doubles();
    d.refuseAdapter = "lora-5";
    const store = createMemoryExperimentStore();
    await created(store, "refused");
    const { instance } = runner(d, store);
    await instance.start("refused");
    const end = await finished(store, "refused");
    assert.equal(end.state, ExperimentState.FAILED);
    assert.match(end.error, /^bioasq\.m0-m\.lora-5-h0: generating .*no adapter/);
    assert.equal(end.error.split("\n").length, 1, end.error);
    assert.equal(end.cellsDone, 2, "the other cells finished");
  });

  it("stops the run (resumable), failing no cell, when a service stays unavailable past the retries", async () => {
    const d = doubles();
    d.unavailable.set("generate", 1000);
    const store = createMemoryExperimentStore();
    await created(store, "unavailable", baseSpec({ finetuneSizes: [0] }));
    const { instance } = runner(d, store, { retry: { ...FAST_RETRY, attempts: 2 } });
    await instance.start("unavailable");
    const end = await finished(store, "unavailable");
    assert.equal(end.state, ExperimentState.FAILED);
    assert.match(end.error, /^\[unavailable\] test double: restarting$/);
    assert.equal(end.cellsDone, 0);
  });

  it("fails a run after N adoptions without a finished cell, keeping the reason; a finished cell resets it", async () => {
    const d = doubles();
    const store = createMemoryExperimentStore();
    await created(store, "looping", baseSpec({ finetuneSizes: [0] }), ExperimentState.RUNNING);
    await store.update("looping", (e) => {
      e.adoptions = 2;
      e.currentStage = "generate bioasq.base";
    });
    const { instance } = runner(d, store, { maxAdoptions: 2 });
    assert.deepEqual(await instance.resumeInterrupted(), []);
    const failed = (await store.get("looping"))!;
    assert.equal(failed.state, ExperimentState.FAILED);
    assert.equal(failed.adoptions, 3);
    assert.match(failed.error, /gave up after 2 adoptions .*last stage: generate bioasq\.base/);
    assert.equal(d.generated.length, 0, "the run was not started again");

    await created(store, "adopted", baseSpec({ finetuneSizes: [0] }), ExperimentState.RUNNING);
    await store.update("adopted", (e) => {
      e.adoptions = 1;
    });
    assert.deepEqual(await instance.resumeInterrupted(), ["adopted"]);
    const end = await finished(store, "adopted");
    assert.equal(end.state, ExperimentState.SUCCEEDED, end.error);
    assert.equal(end.adoptions, 0, "a finished cell shows the run is not looping");
  });

  it("starts a run again when NATS went away under it (a store call timed out), instead of failing it", async () => {
    const d = doubles();
    const store = createMemoryExperimentStore();
    await created(store, "nats-restart", baseSpec({ finetuneSizes: [0, 5] }));
    const memory = createMemoryCellResultStore();
    let puts = 0;
    const timeout = Object.assign(new Error("timeout"), { name: "TimeoutError" });
    const cells: CellResultStore = {
      ...memory,
      // The first finished cell's write times out, as while NATS restarts.
      put: (id, result) => (++puts === 1 ? Promise.reject(timeout) : memory.put(id, result)),
    };
    const { instance, logs } = runner(d, store, { cells });
    await instance.start("nats-restart");
    const end = await finished(store, "nats-restart");
    assert.equal(end.state, ExperimentState.SUCCEEDED, end.error);
    assert.equal(end.cellsDone, 2);
    assert.ok(
      logs.some((l) => l.includes("interrupted") && l.includes("TimeoutError")),
      logs.join("\n"),
    );
    assert.ok(
      logs.some((l) => l.includes("adopting an experiment run")),
      "started again, counted as an adoption",
    );
  });

  it("writes no cell result once its lease may have lapsed (another gateway may hold the run)", async () => {
    const d = doubles();
    const store = createMemoryExperimentStore();
    await created(store, "fenced", baseSpec({ finetuneSizes: [0] }));
    let held = true;
    const lease: Lease = {
      ttlMs: 60_000,
      revision: 1,
      claim: async () => "renewed",
      release: async () => {},
      held: () => held,
    };
    const cells = createMemoryCellResultStore();
    const { instance, logs } = runner(d, store, { cells, leaseFor: () => lease });
    held = false; // as if this gateway stalled past its lease while the cell ran
    await instance.start("fenced");
    for (let waited = 0; instance.isRunning("fenced") && waited < 20_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(instance.isRunning("fenced"), false, "the run stopped itself");
    assert.deepEqual(await cells.list("fenced"), []);
    assert.equal((await store.get("fenced"))?.state, ExperimentState.RUNNING, "left for the lease's holder");
    assert.ok(
      logs.some((l) => l.includes("lease lapsed")),
      logs.join("\n"),
    );
  });

  it("a store that fails under a run is logged, never an unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const d = doubles();
      const memory = createMemoryExperimentStore();
      await created(memory, "broken", baseSpec({ finetuneSizes: [0] }));
      let updates = 0;
      // The store accepts the start, then fails every write: the run's own error handling fails too.
      const store: ExperimentStore = {
        ...memory,
        update: (id, change) =>
          ++updates > 1 ? Promise.reject(new Error("store unreachable")) : memory.update(id, change),
      };
      const { instance, logs } = runner(d, store);
      await instance.start("broken");
      await instance.stopAll();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(unhandled, []);
      assert.ok(
        logs.some((l) => l.includes("experiment run crashed") && l.includes("store unreachable")),
        logs.join("\n"),
      );
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
