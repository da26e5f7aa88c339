/**
 * The generator serves an adapter only when its archive matches the sha256 in the trainer's adapter record: an
 * archive swapped in the NATS Object Store (with metadata that agrees with the forged bytes, as whoever can write
 * the object can write) is refused with a clear error. Real processes (trainer, CPU node agent, generator from the
 * local stack; the generator gets TRAINER_URL as the stack wires it) and a real nats-server.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import {
  archiveDirectory,
  createObjectStoreAdapterStorage,
  DEFAULT_ADAPTER_BUCKET,
  readArchive,
} from "@ragtune/adapter-archive";
import { GeneratorService } from "@ragtune/contracts/generator";
import { JobState, SubmitJobRequestSchema, TrainerService } from "@ragtune/contracts/trainer";
import { stackServices } from "@ragtune/gateway";
import { type LocalStack, startLocalStack } from "@ragtune/gateway/local-stack";
import { connectNats, createServiceClient, type LocalNats, type NatsHandle, startTestNats } from "@ragtune/runtime";
import { writeManifest } from "../services/trainer/test/fixtures/write-manifest.js";

describe("generator: adapter archives checked against the trainer's adapter record", () => {
  let localNats: LocalNats;
  let nats: NatsHandle;
  let dir: string;
  let stack: LocalStack;
  const logs: string[] = [];
  let trainer: ReturnType<typeof createServiceClient<typeof TrainerService>>;
  let generator: ReturnType<typeof createServiceClient<typeof GeneratorService>>;

  before(async () => {
    localNats = await startTestNats();
    nats = await connectNats({ url: localNats.url, name: "adapter-verification-test" });
    dir = await mkdtemp(join(tmpdir(), "ragtune-adapter-verify-"));
    stack = await startLocalStack({
      env: { ...process.env, NATS_URL: localNats.url, RAGTUNE_DATA_DIR: dir, TRAINER_HEARTBEAT_INTERVAL_MS: "500" },
      dataDir: dir,
      anyPort: true,
      services: stackServices.filter((s) => ["trainer", "agent", "generator"].includes(s.name)),
      onLog: (service, line) => logs.push(`[${service}] ${line}`),
    });
    const urlOf = (name: string) => stack.processes.find((p) => p.service.name === name)!.url;
    trainer = createServiceClient(TrainerService, urlOf("trainer"), { tracing: false });
    generator = createServiceClient(GeneratorService, urlOf("generator"), { tracing: false });
  });

  after(async () => {
    await stack?.stop();
    await nats.close();
    await localNats.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Trains a reader adapter through the trainer and its agent: the agent uploads it, the trainer records it. */
  async function train(jobId: string, manifestUri: string, manifestSha256: string) {
    await trainer.submitJob(
      create(SubmitJobRequestSchema, {
        jobId,
        spec: {
          baseModel: "extractive-reader",
          trainingData: { manifestUri, pool: "finetune-8", manifestSha256 },
          epochs: 2,
          microBatchSize: 1,
          loraRank: 1,
          loraAlpha: 1,
        },
      }),
    );
    let state = JobState.UNSPECIFIED;
    for await (const { job } of trainer.watchJob({ jobId })) state = job?.state ?? state;
    assert.equal(state, JobState.SUCCEEDED, `${jobId}: ${JobState[state]}\n${logs.slice(-20).join("\n")}`);
  }

  const ask = (adapter: string) =>
    generator.generate({
      question: "Which river flows through Lumeria?",
      contexts: [{ text: "The Sable river flows through Lumeria from the northern hills.", sourceId: "d0" }],
      model: { adapter },
      sampling: { maxTokens: 16 },
    });

  /** A forged archive: the original's files with its reader weights changed. */
  async function forge(original: Uint8Array): Promise<Uint8Array> {
    const folder = join(dir, "forged");
    await mkdir(folder, { recursive: true });
    for (const [name, data] of readArchive(original)) {
      const text = Buffer.from(data).toString("utf8");
      await writeFile(
        join(folder, name),
        name === "reader-weights.json" ? text.replace(/"bias":\s*-?[\d.e-]+/, '"bias": 99') : data,
      );
    }
    return archiveDirectory(folder);
  }

  it("serves a recorded adapter, and refuses one swapped in the Object Store or never recorded", async () => {
    const manifest = await writeManifest(dir);
    const manifests = await nats.objm.create("ragtune-manifests");
    await manifests.putBlob({ name: "verify.split.json" }, await readFile(manifest.path));
    const uri = "nats-obj://ragtune-manifests/verify.split.json";
    await Promise.all([train("verify-genuine", uri, manifest.sha256), train("verify-swapped", uri, manifest.sha256)]);

    const genuine = await ask("verify-genuine");
    assert.equal(genuine.model?.adapter, "verify-genuine");

    // Someone with write access to the bucket replaces the archive, and its sha256 metadata with it.
    const bucket = await nats.objm.open(DEFAULT_ADAPTER_BUCKET);
    const original = await bucket.getBlob("verify-swapped.tar");
    assert.ok(original);
    const forged = await forge(original);
    assert.notDeepEqual(Buffer.from(forged), Buffer.from(original));
    const stored = await createObjectStoreAdapterStorage(nats.objm).put("verify-swapped", forged);
    assert.equal((await bucket.info("verify-swapped.tar"))?.metadata?.sha256, stored.sha256);

    await assert.rejects(ask("verify-swapped"), (error: unknown) => {
      const message = ConnectError.from(error).rawMessage;
      assert.match(message, /verify-swapped\.tar .* has sha256 [0-9a-f]{64}, but the trainer's adapter record says/);
      assert.match(message, /not the one the trainer recorded/);
      return true;
    });
    // An archive the trainer never recorded is not served either.
    await createObjectStoreAdapterStorage(nats.objm).put("verify-unrecorded", original);
    await assert.rejects(ask("verify-unrecorded"), /has no adapter record at the trainer/);
    // The recorded one is still served.
    assert.equal((await ask("verify-genuine")).model?.adapter, "verify-genuine");
  });
});
