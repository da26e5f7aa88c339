/**
 * What a client names in CreateExperiment stays where it belongs: dataset paths only under the gateway's data roots
 * (regular files, bounded in size, never quoted back), experiment ids and dataset names in one charset (no path
 * escapes, no extra KV key tokens), and one experiment's results never list another's cells. The gateway as
 * deployed (build() from its environment) over gRPC on a socket, with a nats-server of the test's own.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ExperimentService } from "@ragtune/contracts/gateway";
import { writeDemoCorpus } from "@ragtune/demo-corpus";
import {
  type BuiltService,
  commonSettings,
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
import { gatewaySettings } from "../src/config.js";
import { type CellResult, createKvCellResultStore } from "../src/experiments/cell-results.js";
import { build } from "../src/server.js";
import { MAX_EXPERIMENT_NAME_LENGTH } from "../src/experiments/names.js";

const MAX_BYTES = 4 * 1024 * 1024;

describe("CreateExperiment with names and paths from an untrusted client", () => {
  let localNats: LocalNats;
  let nats: NatsHandle;
  let dir: string;
  let dataRoot: string;
  let built: BuiltService;
  let server: ServiceServer;
  let client: ReturnType<typeof createServiceClient<typeof ExperimentService>>;

  before(async () => {
    localNats = await startTestNats();
    nats = await connectNats({ url: localNats.url, name: "untrusted-spec-test" });
    dir = await mkdtemp(join(tmpdir(), "ragtune-untrusted-spec-"));
    dataRoot = join(dir, "data");
    await writeDemoCorpus(join(dataRoot, "corpus"));
    await writeDemoCorpus(join(dir, "outside"));
    const env = {
      GATEWAY_DATA_DIR: join(dir, "work"),
      // /dev only so that a device under an allowed folder can be named: it is refused by its type.
      GATEWAY_DATA_ROOTS: `${dataRoot},/dev`,
      GATEWAY_DATASET_MAX_BYTES: String(MAX_BYTES),
    };
    const config = loadConfig({ ...commonSettings("gateway"), ...gatewaySettings }, env, []);
    built = await build({ config, nats, logger: createLogger("gateway", { level: "error" }) });
    server = createServiceServer({ name: "gateway", services: built.services, tracing: false });
    const { url } = await server.listen("127.0.0.1:0");
    client = createServiceClient(ExperimentService, url, { tracing: false });
  });

  after(async () => {
    await server.close(200);
    await built.onShutdown?.();
    await nats.close();
    await localNats.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const spec = (path: string, name = "") => ({
    name: "untrusted",
    datasets: [{ format: "bioasq", name, paths: [path] }],
    baseModels: [{ baseModel: "extractive-reader", backend: "extractive" }],
    finetuneSizes: [0],
  });

  /** The call fails INVALID_ARGUMENT at `field` with `reason`, quoting none of `secret`. */
  async function refused(call: Promise<unknown>, field: string, reason: RegExp, secret?: string) {
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof ConnectError, String(error));
      assert.equal(error.code, Code.InvalidArgument, error.message);
      assert.ok(error.rawMessage.startsWith(`${field}: `), error.rawMessage);
      assert.match(error.rawMessage, reason);
      if (secret) assert.ok(!error.rawMessage.includes(secret), `the error quotes the file: ${error.rawMessage}`);
      return true;
    });
  }

  const PATH_FIELD = "spec.datasets[0].paths[0]";

  it("reads no dataset outside its data roots, following links and `..` before it checks", async () => {
    const secret = (await readFile("/etc/passwd", "utf8")).split("\n")[0].slice(0, 12);
    await refused(
      client.createExperiment({ spec: spec("/etc/passwd") }),
      PATH_FIELD,
      /is not under a data folder/,
      secret,
    );
    await refused(client.createExperiment({ spec: spec("/etc") }), PATH_FIELD, /is not under a data folder/);
    await refused(
      client.createExperiment({ spec: spec(join(dataRoot, "..", "outside", "bioasq")) }),
      PATH_FIELD,
      /is not under a data folder/,
    );
    await symlink("/etc", join(dataRoot, "etc-link"));
    await refused(
      client.createExperiment({ spec: spec(join(dataRoot, "etc-link")) }),
      PATH_FIELD,
      /is not under a data folder/,
    );
    // A folder under the root whose file links out is refused too (the loaders read a folder's files).
    await mkdir(join(dataRoot, "linked"));
    await symlink("/etc/passwd", join(dataRoot, "linked", "questions.json"));
    await refused(
      client.createExperiment({ spec: spec(join(dataRoot, "linked")) }),
      PATH_FIELD,
      /leads out of the data folders/,
      secret,
    );
    await refused(client.createExperiment({ spec: spec("relative/bioasq") }), PATH_FIELD, /must be an absolute path/);
  });

  it("refuses devices, FIFOs and oversized files without reading them (/dev/zero would never end)", async () => {
    await refused(client.createExperiment({ spec: spec("/dev/zero") }), PATH_FIELD, /not a regular file or folder/);
    await mkdir(join(dataRoot, "fifo"));
    execFileSync("mkfifo", [join(dataRoot, "fifo", "questions.json")]);
    await refused(client.createExperiment({ spec: spec(join(dataRoot, "fifo")) }), PATH_FIELD, /is not a regular file/);
    const big = join(dataRoot, "big.json");
    await writeFile(big, "");
    await truncate(big, MAX_BYTES + 1); // sparse: nothing is written
    await refused(
      client.createExperiment({ spec: spec(big) }),
      PATH_FIELD,
      new RegExp(`holds ${MAX_BYTES + 1} bytes, more than the ${MAX_BYTES}`),
    );
  });

  it("accepts a dataset under its data roots", async () => {
    const { experiment } = await client.createExperiment({
      experimentId: "inside",
      spec: spec(join(dataRoot, "corpus", "bioasq")),
    });
    assert.equal(experiment?.experimentId, "inside");
  });

  it("refuses experiment ids and dataset names that would leave a folder or split a KV key", async () => {
    const ok = spec(join(dataRoot, "corpus", "bioasq"));
    for (const id of ["..", ".", ".hidden", "a..b", "a.", "a/b", "a b", "x".repeat(65)]) {
      await refused(client.createExperiment({ experimentId: id, spec: ok }), "experiment_id", /dot-separated words/);
    }
    for (const name of ["../../escape", "a/b", "a.b", ".hidden", "x".repeat(41)]) {
      await refused(
        client.createExperiment({ spec: spec(join(dataRoot, "corpus", "bioasq"), name) }),
        "spec.datasets[0].name",
        /1\.\.40 characters of \[A-Za-z0-9_-\]/,
      );
    }
    await refused(
      client.createExperiment({ spec: { ...ok, name: "n".repeat(MAX_EXPERIMENT_NAME_LENGTH + 1) } }),
      "spec.name",
      new RegExp(`at most ${MAX_EXPERIMENT_NAME_LENGTH} characters`),
    );
    await refused(client.createExperiment({ spec: { ...ok, name: "../x" } }), "spec.name", /display text: no \/ or \\/);
    // Every RPC checks the id before it reaches a KV key (a wildcard would match other experiments' records).
    for (const id of ["a.*", "a.>", "..", "a/b"]) {
      await refused(client.getExperiment({ experimentId: id }), "experiment_id", /dot-separated words/);
      await refused(client.getResults({ experimentId: id }), "experiment_id", /dot-separated words/);
      await refused(client.startExperiment({ experimentId: id }), "experiment_id", /dot-separated words/);
    }
    const dotted = await client.createExperiment({ experimentId: "team.run-1", spec: ok });
    assert.equal(dotted.experiment?.experimentId, "team.run-1");
  });

  it("lists the cells of experiment `a` only, not those of `a.b`", async () => {
    const ok = spec(join(dataRoot, "corpus", "bioasq"));
    await client.createExperiment({ experimentId: "a", spec: ok });
    await client.createExperiment({ experimentId: "a.b", spec: ok });
    // Results stored through the store the gateway itself uses, as a finished cell of each would be.
    const cells = await createKvCellResultStore(nats);
    const result = (dataset: string): CellResult => ({
      cellKey: `${dataset}.m0-extractive-reader.base`,
      dataset,
      baseModel: "extractive-reader",
      modelIndex: 0,
      method: 0,
      size: 0,
      trainedOn: 0,
      hyperparametersIndex: 0,
      adapterId: "",
      scores: { q1: { accuracy: 4, completeness: 3 } },
      failedRepeats: {},
      generationLatencySeconds: 0,
      outputTokens: 0,
      finishTime: new Date(0).toISOString(),
    });
    await cells.put("a", result("mine"));
    await cells.put("a.b", result("theirs"));
    const own = await client.getResults({ experimentId: "a" });
    assert.deepEqual([...new Set(own.rows.map((r) => r.dataset))], ["mine"]);
    const other = await client.getResults({ experimentId: "a.b" });
    assert.deepEqual([...new Set(other.rows.map((r) => r.dataset))], ["theirs"]);
  });
});
