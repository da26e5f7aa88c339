/**
 * A trainer served over gRPC on a loopback socket with its state on the test's NATS, and the test's manifest
 * published where the gateway publishes it (the Object Store), for tests that run a real node agent against it.
 */
import { TrainerService } from "@ragtune/contracts/trainer";
import { createServiceServer, type NatsHandle } from "@ragtune/runtime";
import { readFile } from "node:fs/promises";
import type { TrainerScheduler } from "../../src/scheduler/scheduler.js";
import { createTrainerScheduler, type TrainerParts } from "../../src/server.js";
import { TrainerServiceImpl } from "../../src/service.js";
import { writeManifest } from "../fixtures/write-manifest.js";

export interface TrainerOnSocket {
  scheduler: TrainerScheduler;
  url: string;
  stop(): Promise<void>;
}

export async function startTrainerOnSocket(parts: TrainerParts): Promise<TrainerOnSocket> {
  const scheduler = await createTrainerScheduler(parts);
  const server = createServiceServer({
    name: "trainer",
    services: [{ service: TrainerService, impl: new TrainerServiceImpl(scheduler) }],
    tracing: false,
  });
  const { url } = await server.listen("127.0.0.1:0");
  return {
    scheduler,
    url,
    async stop() {
      await server.close(200);
      await scheduler.stop();
    },
  };
}

/** Writes the fixture manifest (pool "finetune-<size>") and stores it as nats-obj://<bucket>/split.json. */
export async function publishManifest(nats: NatsHandle, dir: string, bucket: string, size?: number) {
  const manifest = await writeManifest(dir, size);
  const store = await nats.objm.create(bucket);
  await store.putBlob({ name: "split.json" }, await readFile(manifest.path));
  return { manifestUri: `nats-obj://${bucket}/split.json`, manifestSha256: manifest.sha256 };
}
