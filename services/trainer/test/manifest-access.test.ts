/**
 * SubmitJob reads a manifest only from the NATS Object Store or a file under TRAINER_MANIFEST_ROOTS, within byte
 * and time limits, and never echoes what it read: the trainer as deployed (build() from its environment) over gRPC
 * on a socket, with a nats-server of the test's own.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { SubmitJobRequestSchema, TrainerService } from "@ragtune/contracts/trainer";
import {
  type BuiltService,
  connectNats,
  createLogger,
  createServiceClient,
  createServiceServer,
  type LocalNats,
  loadConfig,
  type NatsHandle,
  type ServiceServer,
  startTestNats,
} from "@ragtune/runtime";
import { trainerSettings } from "../src/config.js";
import { build } from "../src/server.js";
import { writeManifest } from "./fixtures/write-manifest.js";

describe("SubmitJob: where a manifest may be read from", () => {
  let localNats: LocalNats;
  let nats: NatsHandle;
  let dir: string;
  let allowed: string;
  let built: BuiltService;
  let server: ServiceServer;
  let client: ReturnType<typeof createServiceClient<typeof TrainerService>>;
  let web: Server;
  let webRequests = 0;

  before(async () => {
    localNats = await startTestNats();
    nats = await connectNats({ url: localNats.url, name: "manifest-access-test" });
    dir = await mkdtemp(join(tmpdir(), "ragtune-manifest-access-"));
    allowed = join(dir, "manifests");
    await mkdir(allowed);
    const env = {
      // /dev only so that a device inside an allow-listed folder can be named: it is refused by its type.
      TRAINER_MANIFEST_ROOTS: `${allowed},/dev`,
      TRAINER_MANIFEST_MAX_BYTES: String(64 * 1024),
      TRAINER_BUCKET_PREFIX: "manifest_access",
    };
    const config = loadConfig(trainerSettings, env, []);
    built = await build({ config, nats, logger: createLogger("trainer", { level: "error" }) } as Parameters<
      typeof build
    >[0]);
    server = createServiceServer({ name: "trainer", services: built.services, tracing: false });
    const { url } = await server.listen("127.0.0.1:0");
    client = createServiceClient(TrainerService, url, { tracing: false });
    web = createServer((_, res) => {
      webRequests++;
      res.end("{}");
    });
    await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
  });

  after(async () => {
    web.close();
    await server.close(200);
    await built.onShutdown?.();
    await nats.close();
    await localNats.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const submit = (jobId: string, manifestUri: string, manifestSha256 = "") =>
    client.submitJob(
      create(SubmitJobRequestSchema, {
        jobId,
        spec: {
          baseModel: "extractive-reader",
          trainingData: { manifestUri, pool: "finetune-8", manifestSha256 },
          microBatchSize: 1,
          loraRank: 1,
          loraAlpha: 1,
        },
      }),
    );

  /** The call fails INVALID_ARGUMENT on the manifest's URI with `reason`, quoting none of `secret`. */
  async function refused(call: Promise<unknown>, reason: RegExp, secret?: string) {
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof ConnectError, String(error));
      assert.equal(error.code, Code.InvalidArgument, error.message);
      assert.match(error.rawMessage, /^spec\.training_data\.manifest_uri: /);
      assert.match(error.rawMessage, reason);
      if (secret) assert.ok(!error.rawMessage.includes(secret), `the error quotes the file: ${error.rawMessage}`);
      return true;
    });
  }

  it("refuses /etc/passwd without quoting it, and a file outside the allow-listed folder", async () => {
    const firstLine = (await readFile("/etc/passwd", "utf8")).split("\n")[0].slice(0, 12);
    await refused(submit("passwd", "/etc/passwd"), /not under an allow-listed manifest folder/, firstLine);
    await refused(submit("passwd-url", "file:///etc/passwd"), /not under an allow-listed/, firstLine);
    const outside = await writeManifest(dir);
    await refused(submit("outside", outside.path), /not under an allow-listed/);
    // A link inside the folder to a file outside it is followed before the check.
    await symlink("/etc/passwd", join(allowed, "link.json"));
    await refused(submit("link", join(allowed, "link.json")), /not under an allow-listed/, firstLine);
    await refused(submit("escape", `${allowed}/../${outside.path.split("/").pop()}`), /not under an allow-listed/);
  });

  it("never fetches a URL", async () => {
    const url = `http://127.0.0.1:${(web.address() as AddressInfo).port}/manifest.json`;
    await refused(submit("http", url), /nats-obj:\/\/ objects or allow-listed folders only/);
    await refused(submit("https", url.replace("http", "https")), /allow-listed folders only/);
    assert.equal(webRequests, 0, "the trainer fetched the URL");
  });

  it("refuses what is not a regular file, or too large, within the allow-listed folder", async () => {
    await refused(submit("zero", "/dev/zero"), /not a regular file/);
    const fifo = join(allowed, "fifo.json");
    execFileSync("mkfifo", [fifo]);
    await refused(submit("fifo", fifo), /not a regular file/);
    const big = join(allowed, "big.json");
    await writeFile(big, Buffer.alloc(65 * 1024, 0x20));
    await refused(submit("big", big), /65\d+ bytes, more than the manifest limit of 65536/);
    const notJson = join(allowed, "secret.json");
    await writeFile(notJson, "password=hunter2\n");
    await assert.rejects(submit("not-json", notJson), (error: ConnectError) => {
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, /manifest is not JSON/);
      assert.ok(!error.rawMessage.includes("hunter2"), error.rawMessage);
      return true;
    });
  });

  it("accepts a manifest in the allow-listed folder and one in the Object Store", async () => {
    const inFolder = await writeManifest(allowed);
    const { job } = await submit("in-folder", inFolder.path, inFolder.sha256);
    assert.equal(job?.jobId, "in-folder");
    const store = await nats.objm.create("manifest-access");
    await store.putBlob({ name: "split.json" }, await readFile(inFolder.path));
    const stored = await submit("in-store", "nats-obj://manifest-access/split.json", inFolder.sha256);
    assert.equal(stored.job?.jobId, "in-store");
    await assert.rejects(submit("missing-object", "nats-obj://manifest-access/none.json"), (error: ConnectError) => {
      assert.equal(error.code, Code.InvalidArgument);
      assert.match(error.rawMessage, /^spec\.training_data: nats-obj:\/\/manifest-access\/none\.json: no such object/);
      return true;
    });
  });

  it("refuses ids that would name a parent folder, a path or a KV wildcard, at their field", async () => {
    for (const id of ["..", ".", ".hidden", "a/b", "a.*", "a\u0000b", "x".repeat(129)]) {
      await assert.rejects(client.getAdapter({ adapterId: id }), (error: ConnectError) => {
        assert.equal(error.code, Code.InvalidArgument, `${JSON.stringify(id)}: ${error.message}`);
        assert.match(error.rawMessage, /^adapter_id: must be 1\.\.128 characters/);
        return true;
      });
      await assert.rejects(client.getJob({ jobId: id }), /job_id: must be 1\.\.128 characters/);
    }
    await assert.rejects(client.getAdapter({ adapterId: "no-such-adapter" }), (error: ConnectError) => {
      assert.equal(error.code, Code.NotFound);
      return true;
    });
  });
});
