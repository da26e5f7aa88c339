/**
 * Every fine-tuning path of an LLM end to end across the real processes (gateway, retriever, trainer + node agent,
 * generator, judge, NATS), against one fake OpenAI-compatible server: a hosted fine-tune made through its
 * fine-tuning API (/v1/files, /v1/fine_tuning/jobs) and served by the model name the provider gave it, and a LoRA
 * adapter (written by the agent's PEFT test stand-in) that the generator unpacks and has the server load at run
 * time. Each tuned cell must really be answered by its tuned model.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FineTuneMethod } from "@ragtune/contracts/common";
import type { ResultRow } from "@ragtune/contracts/gateway";
import { TrainerService } from "@ragtune/contracts/trainer";
import { createServiceClient } from "@ragtune/runtime";
import {
  PLANTED_BASE_MODEL,
  type PlantedStack,
  runPlantedExperiment,
  startPlantedStack,
} from "./support/planted-stack.js";

const EVAL = 20;
const POOL = 30;

describe("hosted and LoRA fine-tunes across every service", () => {
  let planted: PlantedStack;
  let rows: ResultRow[];

  before(async () => {
    planted = await startPlantedStack({ questions: 60 });
    ({ rows } = await runPlantedExperiment(planted, {
      experimentId: "paths",
      run: { seed: 5, baseAccuracy: 0.3, lift: { hosted: 0.4, lora: 0.4 } },
      poolSize: POOL,
      evalSize: EVAL,
      repeats: 2,
    }));
  });
  after(async () => {
    await planted?.stop();
  });

  const generations = (model: string) =>
    planted.fake.requests.filter((r) => r.path === "/v1/chat/completions" && r.body?.model === model);

  it("runs a base, a hosted and a LoRA cell, each row naming its executor", () => {
    assert.equal(rows.length, 6, "3 cells × 2 criteria");
    const byMethod = (method: FineTuneMethod) => rows.filter((r) => r.method === method && r.finetuneSize === POOL);
    for (const row of byMethod(FineTuneMethod.HOSTED)) assert.equal(row.executor, "openai");
    for (const row of byMethod(FineTuneMethod.LORA)) assert.equal(row.executor, "peft");
    for (const row of rows) {
      assert.equal(row.score!.n, EVAL, `${FineTuneMethod[row.method]} ${row.criterion}: every question scored`);
      if (row.finetuneSize > 0) assert.equal(row.pairedN, EVAL);
    }
  });

  it("fine-tunes through the hosted API and answers with the fine-tuned model's name", async () => {
    const jobs = [...planted.fake.fineTuning.jobs.values()];
    assert.equal(jobs.length, 1, "one hosted job");
    const [job] = jobs;
    assert.equal(job.status, "succeeded");
    assert.equal(job.model, PLANTED_BASE_MODEL);
    const upload = planted.fake.fineTuning.files.get(job.training_file)!;
    const examples = upload.content.trim().split("\n");
    assert.equal(examples.length, POOL, "the pool's pairs, one chat example each");
    assert.equal(JSON.parse(examples[0]).messages.at(-1).role, "assistant");

    // The tuned cell's answers came from ft:…, never from the base model under the adapter's id.
    assert.equal(generations(job.fine_tuned_model!).length, EVAL);
    const hosted = rows.find((r) => r.method === FineTuneMethod.HOSTED)!;
    assert.equal(generations(hosted.adapterId).length, 0);
    const trainer = createServiceClient(
      TrainerService,
      planted.stack.processes.find((p) => p.service.name === "trainer")!.url,
    );
    const { adapter } = await trainer.getAdapter({ adapterId: hosted.adapterId });
    assert.equal(adapter!.spec!.method, FineTuneMethod.HOSTED);
  });

  it("loads the LoRA adapter at run time from the folder the generator unpacked, and answers with it", async () => {
    const lora = rows.find((r) => r.method === FineTuneMethod.LORA)!;
    const loads = planted.fake.requests.filter((r) => r.path === "/v1/load_lora_adapter");
    assert.deepEqual(
      loads.map((r) => r.body),
      [{ lora_name: lora.adapterId, lora_path: join(planted.adapterDir, lora.adapterId) }],
    );
    const config = JSON.parse(await readFile(join(planted.adapterDir, lora.adapterId, "adapter_config.json"), "utf8"));
    assert.equal(config.peft_type, "LORA");
    assert.equal(config.base_model_name_or_path, PLANTED_BASE_MODEL);
    assert.match(config.ragtune_test_stand_in, /stand-in/, "the adapter says it was written by the test stand-in");
    const weights = await readFile(join(planted.adapterDir, lora.adapterId, "adapter_model.safetensors"));
    const header = JSON.parse(weights.subarray(8, 8 + Number(weights.readBigUInt64LE(0))).toString());
    assert.ok(Object.keys(header).some((name) => name.endsWith("lora_A.weight")));
    // Every evaluation answer, plus the load's canary (which must differ from the base model's).
    assert.equal(generations(lora.adapterId).length, EVAL + 1);
  });

  it("tuned cells are answered by tuned models: the planted lift shows in the scores", () => {
    for (const criterion of ["accuracy", "completeness"]) {
      const base = rows.find((r) => r.finetuneSize === 0 && r.criterion === criterion)!;
      for (const tuned of rows.filter((r) => r.finetuneSize > 0 && r.criterion === criterion)) {
        assert.ok(tuned.diffVsBase > 0, `${FineTuneMethod[tuned.method]} ${criterion}: ${tuned.diffVsBase}`);
        assert.ok(tuned.score!.mean > base.score!.mean);
      }
    }
  });
});
