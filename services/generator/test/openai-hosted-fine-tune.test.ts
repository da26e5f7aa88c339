/**
 * A hosted fine-tune (OpenAI-style fine-tuning API) is asked for by its adapter id and answered by the model name the
 * provider gave it, read from the adapter archive the trainer's agent stored (hosted-fine-tune.json beside
 * ragtune-adapter.json, packed by the agents' archive writer). Real nats-server, build() on a real socket.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GeneratorService } from "@ragtune/contracts/generator";
import { Code, createServiceClient, type NatsHandle } from "@ragtune/runtime";
import { archiveDirectory, createObjectStoreAdapterStorage } from "@ragtune/adapter-archive";
import { type FakeOpenAiServer, isConnectError, startFakeOpenAiServer } from "@ragtune/testing";
import { HOSTED_FINE_TUNE_FILE } from "../src/backends/hosted-fine-tunes.js";
import { type ServedGenerator, serveGenerator, startNatsForTest } from "./serve-generator.js";

const FT_MODEL = "ft:base-7b:acme:exp:ftjob-1";

describe("OpenAI-compatible backend: hosted fine-tunes served by their model name", () => {
  let stopNats: (() => Promise<void>) | undefined;
  let handle: NatsHandle;
  let fake: FakeOpenAiServer;
  let served: ServedGenerator;
  let client: ReturnType<typeof createServiceClient<typeof GeneratorService>>;
  let work: string;

  /** Stores an adapter folder holding what the agent's `openai` executor and the agent write. */
  async function storeHosted(adapterId: string, fineTunedModel: string, baseModel: string) {
    const dir = join(work, adapterId);
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, HOSTED_FINE_TUNE_FILE),
      JSON.stringify({ provider: "openai", hosted_job_id: "ftjob-1", fine_tuned_model: fineTunedModel }),
    );
    await writeFile(
      join(dir, "ragtune-adapter.json"),
      JSON.stringify({ job_id: adapterId, base_model: baseModel, executor: "openai" }),
    );
    await createObjectStoreAdapterStorage(handle.objm).put(adapterId, await archiveDirectory(dir));
  }

  const ask = (adapter: string, baseModel = "base-7b") =>
    client.generate({
      question: "How long is the Orrin Canal?",
      contexts: [{ text: "The Orrin Canal is 41 kilometres long.", sourceId: "canal" }],
      model: { backend: "openai", baseModel, adapter },
      sampling: { maxTokens: 16 },
    });

  before(async () => {
    ({ handle, stop: stopNats } = await startNatsForTest("generator-hosted-test"));
    work = await mkdtemp(join(tmpdir(), "ragtune-hosted-"));
    fake = await startFakeOpenAiServer({ models: [{ id: "base-7b" }, { id: "other-7b" }] });
    fake.addFineTunedModel(FT_MODEL, "base-7b");
    await storeHosted("job-hosted", FT_MODEL, "base-7b");
    await storeHosted("job-gone", "ft:base-7b:acme:exp:ftjob-deleted", "base-7b");
    served = await serveGenerator(
      { GENERATOR_OPENAI_BASE_URL: fake.baseUrl, GENERATOR_DEFAULT_BACKEND: "openai" },
      handle,
    );
    client = createServiceClient(GeneratorService, served.url);
  });
  after(async () => {
    await served?.close();
    await fake?.close();
    await stopNats?.();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("answers with the fine-tuned model's name and reports the adapter id", async () => {
    const before = fake.requests.length;
    const first = await ask("job-hosted");
    const second = await ask("job-hosted");
    const sent = fake.requests.slice(before).filter((r) => r.path === "/v1/chat/completions");
    assert.deepEqual(
      sent.map((r) => r.body?.model),
      [FT_MODEL, FT_MODEL],
    );
    assert.equal(first.model?.adapter, "job-hosted");
    assert.match(first.answer, /ftjob-1/, "the fake tags answers with the model that gave them");
    assert.equal(second.answer, first.answer);
    assert.equal(fake.requests.filter((r) => r.path === "/v1/load_lora_adapter").length, 0, "nothing to load");
  });

  it("NOT_FOUND naming the hosted model when the provider no longer serves it", async () => {
    await assert.rejects(ask("job-gone"), isConnectError(Code.NotFound, /ft:base-7b:acme:exp:ftjob-deleted/));
  });

  it("NOT_FOUND when asked with another base model than the fine-tune's", async () => {
    await assert.rejects(ask("job-hosted", "other-7b"), isConnectError(Code.NotFound, /fine-tune of base-7b/));
  });

  it("NOT_FOUND for an adapter that is neither served nor stored", async () => {
    await assert.rejects(ask("job-never"), isConnectError(Code.NotFound, /job-never/));
  });
});
