import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ExperimentService } from "@ragtune/contracts/gateway";
import { GeneratorService } from "@ragtune/contracts/generator";
import { JudgeService } from "@ragtune/contracts/judge";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { TrainerService } from "@ragtune/contracts/trainer";
import { loadDataset } from "@ragtune/datasets";
import { writeDemoCorpus } from "@ragtune/demo-corpus";
import { createLogger } from "@ragtune/runtime";
import { createMemoryCellResultStore } from "./cell-results.js";
import { DEFAULT_DATASET_MAX_FILE_BYTES } from "./dataset-access.js";
import { ExperimentRunner } from "./experiment-runner.js";
import { ExperimentServiceImpl } from "./experiment-service.js";
import { createMemoryExperimentStore } from "./experiment-store.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ragtune-service-"));
  await writeDemoCorpus(join(dir, "corpus"));
});
after(() => rm(dir, { recursive: true, force: true }));

const access = () => ({ roots: [dir], maxFileBytes: DEFAULT_DATASET_MAX_FILE_BYTES });

/** The gateway's ExperimentService over a transport; creating an experiment does not start it, so no backend runs. */
function gateway() {
  const store = createMemoryExperimentStore();
  const cells = createMemoryCellResultStore();
  const backends = createRouterTransport(() => {});
  const runner = new ExperimentRunner({
    store,
    cells,
    clients: {
      retriever: createClient(RetrieverService, backends),
      trainer: createClient(TrainerService, backends),
      generator: createClient(GeneratorService, backends),
      judge: createClient(JudgeService, backends),
    },
    workDir: join(dir, "work"),
    datasetAccess: access(),
    logger: createLogger("experiment-service-test", { level: "error" }),
  });
  const transport = createRouterTransport(({ service }) => {
    service(ExperimentService, new ExperimentServiceImpl(store, cells, runner, access()));
  });
  return createClient(ExperimentService, transport);
}

const spec = (path: string, finetuneSizes: number[]) => ({
  name: "qasper-pools",
  datasets: [{ format: "qasper", paths: [path] }],
  baseModels: [{ baseModel: "extractive-reader", backend: "extractive" }],
  finetuneSizes,
});

describe("CreateExperiment checks the split against the dataset", () => {
  it("refuses a pool the dataset cannot fill once papers are kept whole, naming the size", async () => {
    const path = join(dir, "corpus", "qasper");
    const questions = (await loadDataset("qasper", path)).items.length;
    const client = gateway();
    const error = await client.createExperiment({ spec: spec(path, [0, questions]) }).then(
      () => assert.fail("accepted a pool as large as the whole dataset"),
      (e) => ConnectError.from(e),
    );
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, /^spec\.finetune_sizes\[1\]: .*"qasper" has \d+ beside \d+ for evaluation/);
    const ok = await client.createExperiment({ spec: spec(path, [0, 2]) });
    assert.equal(ok.experiment?.spec?.finetuneSizes.join(","), "0,2");
  });

  it("refuses a dataset path it cannot read, at its field", async () => {
    const error = await gateway()
      .createExperiment({ spec: spec(join(dir, "no-such-folder"), [0]) })
      .then(
        () => assert.fail("accepted a missing dataset"),
        (e) => ConnectError.from(e),
      );
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, /^spec\.datasets\[0\]\.paths\[0\]: no such file or folder: .*no-such-folder/);
  });
});
