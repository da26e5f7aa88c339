/**
 * Scheduling figures, all measured in this run:
 *  1. submit → start latency on an idle node: real trainer over gRPC on a socket, KV state and JetStream events
 *     on a nats-server of the bench's own; the "agent" is a long-polling AcquireJob call.
 *  2. jobs placed per second: 1,000 queued jobs onto 100 simulated nodes in one placement pass, on the NATS KV
 *     store (every placement a revision-checked write) and on the in-memory store (the placement logic alone).
 *  3. GPU memory utilisation of best-fit against first-fit on the same fleet and job mix.
 */
import { create } from "@bufbuild/protobuf";
import { FineTuneMethod } from "@ragtune/contracts/common";
import {
  AdapterSchema,
  JobSchema,
  JobState,
  NodeSchema,
  NodeState,
  ReportJobRequestSchema,
  SubmitJobRequestSchema,
  TrainerService,
} from "@ragtune/contracts/trainer";
import {
  connectNats,
  createServiceClient,
  createServiceServer,
  type NatsHandle,
  startTestNats,
} from "@ragtune/runtime";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTrainerEvents } from "../src/events/trainer-events.js";
import type { PlacementStrategy } from "../src/scheduler/placement.js";
import { type SchedulerStores, TrainerScheduler } from "../src/scheduler/scheduler.js";
import { createTrainerScheduler, openTrainerStores } from "../src/server.js";
import { openKvBucket } from "../src/store/kv-record-store.js";
import { createKvSlotClaims, type SlotClaims } from "../src/store/slot-claims.js";
import { TrainerServiceImpl } from "../src/service.js";
import { createMemoryRecordStore } from "../src/store/record-store.js";
import { GIB, gpuNode } from "../src/testing/fixtures.js";
import { writeManifest } from "../test/fixtures/write-manifest.js";

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const fmt = (x: number, digits = 1) => x.toFixed(digits);

async function measureSubmitToStart(nats: NatsHandle, dir: string, rounds = 40) {
  const manifest = await writeManifest(dir);
  const scheduler = await createTrainerScheduler({ nats, bucketPrefix: "bench_latency", manifests: { roots: [dir] } });
  const server = createServiceServer({
    name: "trainer",
    services: [{ service: TrainerService, impl: new TrainerServiceImpl(scheduler) }],
    tracing: false,
  });
  const { url } = await server.listen("127.0.0.1:0");
  const client = createServiceClient(TrainerService, url, { tracing: false });
  await client.registerNode({
    node: { nodeId: "idle-node", executors: ["cpu-reader"], hostMemoryBytes: BigInt(8 * GIB) },
  });
  const latencies: number[] = [];
  for (let i = 0; i < rounds + 5; i++) {
    const acquiring = client.acquireJob({ nodeId: "idle-node", waitSeconds: 10 });
    await new Promise((r) => setTimeout(r, 5)); // the agent is waiting before the job arrives
    const started = performance.now();
    await client.submitJob(
      create(SubmitJobRequestSchema, {
        jobId: `latency-${i}`,
        spec: {
          baseModel: "extractive-reader",
          trainingData: { manifestUri: manifest.path, pool: "finetune-8", manifestSha256: manifest.sha256 },
          loraRank: 1,
          loraAlpha: 1,
          microBatchSize: 1,
        },
      }),
    );
    const { job } = await acquiring;
    const elapsed = performance.now() - started;
    if (job?.state !== JobState.RUNNING) throw new Error(`job not started: ${job?.state}`);
    if (i >= 5) latencies.push(elapsed); // first rounds warm the JIT and connections
    await client.reportJob({
      nodeId: "idle-node",
      jobId: job.jobId,
      attempt: job.attempt,
      report: { case: "succeeded", value: { uri: "bench://none", sha256: "0" } },
    });
  }
  await server.close(100);
  await scheduler.stop();
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), rounds };
}

/** 100 nodes of four kinds (600 GPUs, 34,880 GiB): the sort of mixed fleet the paper's runs would meet. */
function fleet() {
  const kinds: [string, number[]][] = [
    ["a100-80x8", Array(8).fill(80)],
    ["a100-40x8", Array(8).fill(40)],
    ["h100-80x4", Array(4).fill(80)],
    ["l4-24x4", Array(4).fill(24)],
  ];
  return Array.from({ length: 100 }, (_, i) => {
    const [kind, gpus] = kinds[i % 4];
    const node = gpuNode(`${kind}-${i}`, gpus);
    node.state = NodeState.READY;
    return node;
  });
}

/** 1,000 jobs over the paper's grid (Mistral-7B, Llama-2-7B/13B; LoRA/QLoRA; micro-batch 1–8; 1k–4k tokens), seeded. */
function jobMix(count = 1000) {
  const models = [
    "mistralai/Mistral-7B-Instruct-v0.2",
    "meta-llama/Llama-2-7b-chat-hf",
    "meta-llama/Llama-2-13b-chat-hf",
  ];
  const methods = [FineTuneMethod.LORA, FineTuneMethod.QLORA];
  const microBatches = [1, 2, 4, 8];
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  return Array.from({ length: count }, (_, i) =>
    create(SubmitJobRequestSchema, {
      jobId: `grid-${i}`,
      spec: {
        baseModel: models[Math.floor(random() * models.length)],
        method: methods[Math.floor(random() * methods.length)],
        microBatchSize: microBatches[Math.floor(random() * microBatches.length)],
        maxSeqLength: [1024, 2048, 4096][Math.floor(random() * 3)],
        trainingData: { manifestUri: "/bench/none.json", pool: "finetune-1000", size: 1000 },
        loraRank: 16,
        loraAlpha: 32,
      },
    }),
  );
}

async function measurePlacement(stores: SchedulerStores, strategy: PlacementStrategy, slotClaims?: SlotClaims) {
  const scheduler = new TrainerScheduler({
    stores,
    slots: slotClaims,
    events: createTrainerEvents({ publish: async () => {}, source: "bench" }),
    strategy,
  });
  await scheduler.start({ timers: false });
  for (const request of jobMix()) await scheduler.submit(request); // no nodes yet: all queued
  const nodes = fleet();
  // Straight into the store: registering one by one would place jobs node by node instead of in one pass.
  for (const node of nodes) await stores.nodes.put(node.nodeId, node);
  await new Promise((r) => setTimeout(r, 200)); // the store's watch fills the scheduler's node cache
  const started = performance.now();
  await scheduler.requestSchedule();
  const seconds = (performance.now() - started) / 1000;
  const placed = scheduler.listJobs([JobState.PLACED], 1000, "").jobs;
  const placedBytes = placed.reduce((sum, job) => sum + Number(job.estimatedMemoryBytes), 0);
  const fleetBytes = nodes.reduce((sum, n) => sum + n.gpus.reduce((s, g) => s + Number(g.memoryTotalBytes), 0), 0);
  const slots = nodes.reduce((sum, n) => sum + n.gpus.length, 0);
  const usedGpuBytes = placed.reduce((sum, job) => {
    const node = nodes.find((n) => n.nodeId === job.nodeId);
    return sum + Number(node?.gpus.find((g) => g.index === job.gpuIndex)?.memoryTotalBytes ?? 0);
  }, 0);
  await scheduler.stop();
  return {
    placed: placed.length,
    slots,
    seconds,
    perSecond: placed.length / seconds,
    fleetUtilisation: placedBytes / fleetBytes,
    occupiedGpuUtilisation: placedBytes / usedGpuBytes,
  };
}

/**
 * Placement over time: the grid's jobs arrive at random (Poisson, at the fleet's nominal capacity) and run for a
 * time that grows with model size; simulated agents start placed jobs at once and finish them on
 * a simulated clock. The real scheduler (in-memory stores) decides every placement.
 */
const LOAD = Number(process.env.BENCH_LOAD ?? 1);

async function simulateArrivals(strategy: PlacementStrategy) {
  const clock = { ms: 0 };
  const scheduler = new TrainerScheduler({
    stores: memoryStores(),
    events: createTrainerEvents({ publish: async () => {}, source: "bench", now: () => clock.ms }),
    strategy,
    now: () => clock.ms,
  });
  await scheduler.start({ timers: false });
  const nodes = fleet();
  for (const node of nodes) await scheduler.registerNode(node);
  const gpuBytes = new Map(
    nodes.flatMap((n) => n.gpus.map((g) => [`${n.nodeId}/${g.index}`, Number(g.memoryTotalBytes)])),
  );
  const fleetBytes = [...gpuBytes.values()].reduce((a, b) => a + b, 0);
  const jobs = jobMix();
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const minute = 60_000;
  const durationOf = (i: number) => {
    const spec = jobs[i].spec!;
    const size = spec.baseModel.includes("13b") ? 2 : 1;
    return (30 + 60 * random()) * size * minute;
  };
  // Mean duration ≈ 80 min; 600 GPUs → ~7.5 jobs/min at full load; arrivals at that rate, so queues form.
  const meanGapMs = minute / (LOAD * 7.5);
  const arrivals: number[] = [];
  for (let t = 0, i = 0; i < jobs.length; i++) {
    t += -Math.log(1 - random()) * meanGapMs;
    arrivals.push(t);
  }
  const arrivedAt = new Map<string, number>();
  const completions: { at: number; jobId: string; nodeId: string; attempt: number; bytes: number; gpu: number }[] = [];
  const waits: number[] = [];
  const bigWaits: number[] = [];
  let next = 0;
  let runningBytes = 0;
  let runningGpuBytes = 0;
  let fleetIntegral = 0;
  let occupiedIntegral = 0;
  let busyTime = 0;
  let last = 0;
  while (next < jobs.length || completions.length) {
    const nextCompletion = completions.length ? completions[0].at : Number.POSITIVE_INFINITY;
    const at = Math.min(next < jobs.length ? arrivals[next] : Number.POSITIVE_INFINITY, nextCompletion);
    fleetIntegral += (at - last) * (runningBytes / fleetBytes);
    if (runningGpuBytes > 0) {
      occupiedIntegral += (at - last) * (runningBytes / runningGpuBytes);
      busyTime += at - last;
    }
    last = at;
    clock.ms = at;
    if (at === nextCompletion) {
      const done = completions.shift()!;
      runningBytes -= done.bytes;
      runningGpuBytes -= done.gpu;
      await scheduler.report(
        create(ReportJobRequestSchema, {
          nodeId: done.nodeId,
          jobId: done.jobId,
          attempt: done.attempt,
          report: { case: "succeeded", value: { uri: "sim://", sha256: "0" } },
        }),
      );
    } else {
      arrivedAt.set(jobs[next].jobId, at);
      await scheduler.submit(jobs[next]);
      next++;
    }
    for (const placed of scheduler.listJobs([JobState.PLACED], 1000, "").jobs) {
      const job = await scheduler.acquire(placed.nodeId, 0);
      if (!job) continue;
      const index = Number(job.jobId.split("-")[1]);
      const bytes = Number(job.estimatedMemoryBytes);
      const gpu = gpuBytes.get(`${job.nodeId}/${job.gpuIndex}`) ?? 0;
      runningBytes += bytes;
      runningGpuBytes += gpu;
      waits.push(at - (arrivedAt.get(job.jobId) ?? at));
      // Jobs that only an 80 GB GPU holds: first fit's small jobs on big GPUs make these wait.
      if (bytes > 40 * GIB) bigWaits.push(at - (arrivedAt.get(job.jobId) ?? at));
      completions.push({
        at: at + durationOf(index),
        jobId: job.jobId,
        nodeId: job.nodeId,
        attempt: job.attempt,
        bytes,
        gpu,
      });
      completions.sort((a, b) => a.at - b.at);
    }
  }
  await scheduler.stop();
  waits.sort((a, b) => a - b);
  return {
    meanWaitMin: waits.reduce((a, b) => a + b, 0) / waits.length / minute,
    bigJobs: bigWaits.length,
    bigMeanWaitMin: bigWaits.reduce((a, b) => a + b, 0) / Math.max(1, bigWaits.length) / minute,
    p95WaitMin: percentile(waits, 0.95) / minute,
    makespanHours: last / 3_600_000,
    fleetUtilisation: fleetIntegral / last,
    occupiedUtilisation: occupiedIntegral / busyTime,
  };
}

const memoryStores = (): SchedulerStores => ({
  jobs: createMemoryRecordStore(JobSchema),
  nodes: createMemoryRecordStore(NodeSchema),
  adapters: createMemoryRecordStore(AdapterSchema),
});

const localNats = await startTestNats();
const nats = await connectNats({ url: localNats.url, name: "trainer-bench" });
const dir = await mkdtemp(join(tmpdir(), "trainer-bench-"));
try {
  const latency = await measureSubmitToStart(nats, dir);
  console.log(
    `submit → start on an idle node (gRPC + NATS KV, ${latency.rounds} jobs): p50 ${fmt(latency.p50)} ms, p95 ${fmt(latency.p95)} ms`,
  );

  // As a replica places: each placement fenced by its slot's claim record in KV (a read and a write more).
  const kvBest = await measurePlacement(
    await openTrainerStores(nats, "bench_kv_best"),
    "best-fit",
    createKvSlotClaims(await openKvBucket(nats.kvm, "bench_kv_best_lease")),
  );
  const memBest = await measurePlacement(memoryStores(), "best-fit");
  const memFirst = await measurePlacement(memoryStores(), "first-fit");
  console.log(
    `placement of 1,000 queued jobs on 100 nodes (${kvBest.slots} GPUs), one pass:` +
      `\n  NATS KV store, best-fit:  ${kvBest.placed} placed in ${fmt(kvBest.seconds * 1000, 0)} ms = ${fmt(kvBest.perSecond, 0)} jobs/s` +
      `\n  in-memory store, best-fit: ${memBest.placed} placed in ${fmt(memBest.seconds * 1000, 0)} ms = ${fmt(memBest.perSecond, 0)} jobs/s` +
      `\n  in-memory store, first-fit: ${memFirst.placed} placed in ${fmt(memFirst.seconds * 1000, 0)} ms = ${fmt(memFirst.perSecond, 0)} jobs/s`,
  );
  const simBest = await simulateArrivals("best-fit");
  const simFirst = await simulateArrivals("first-fit");
  const line = (name: string, r: typeof simBest) =>
    `\n  ${name}: mean wait ${fmt(r.meanWaitMin)} min, p95 wait ${fmt(r.p95WaitMin)} min, ` +
    `${r.bigJobs} jobs needing > 40 GiB wait ${fmt(r.bigMeanWaitMin)} min on average, all done after ${fmt(r.makespanHours, 2)} h, ` +
    `GPU memory in use ${fmt(r.fleetUtilisation * 100)}% of the fleet, ${fmt(r.occupiedUtilisation * 100)}% of occupied GPUs`;
  console.log(
    `1,000 jobs arriving at ${LOAD}× the fleet's nominal capacity (simulated clock, time-averaged):` +
      line("best-fit ", simBest) +
      line("first-fit", simFirst) +
      `\n  best-fit / first-fit: mean wait ${simFirst.meanWaitMin < 0.05 ? "n/a (no queueing)" : `${fmt(simBest.meanWaitMin / simFirst.meanWaitMin, 2)}×`}, ` +
      `makespan ${fmt(simBest.makespanHours / simFirst.makespanHours, 2)}×, ` +
      `occupied-GPU memory utilisation ${fmt(simBest.occupiedUtilisation / simFirst.occupiedUtilisation, 2)}×`,
  );
} finally {
  await nats.close();
  await localNats.stop();
  await rm(dir, { recursive: true, force: true });
}
