/**
 * A fine-tune reaches vLLM with no manual step: the trainer's PEFT adapter archive in the NATS Object Store is
 * unpacked by the generator into the folder it shares with vLLM, loaded with load_lora_adapter (the fake vLLM reads
 * adapter_config.json from that path, as vLLM does) and answers. Real nats-server, build() on a real socket.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { AdapterLoadedSchema, AdapterLoadFailedSchema } from "@ragtune/contracts/events";
import { GeneratorService } from "@ragtune/contracts/generator";
import { Code, createServiceClient, type NatsHandle } from "@ragtune/runtime";
// The archive writer and Object Store storage the trainer's node agents run.
import { archiveDirectory, createObjectStoreAdapterStorage } from "@ragtune/adapter-archive";
import { ADAPTER_FAILED_SUBJECT, ADAPTER_LOADED_SUBJECT } from "../src/events.js";
import { defaultResponder, type FakeOpenAiServer, isConnectError, startFakeOpenAiServer } from "@ragtune/testing";
import { type ServedGenerator, serveGenerator, startNatsForTest } from "./serve-generator.js";

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

describe("OpenAI-compatible backend: adapters unpacked from the Object Store into the folder vLLM reads", () => {
  let stopNats: (() => Promise<void>) | undefined;
  let handle: NatsHandle;
  let fake: FakeOpenAiServer;
  let served: ServedGenerator;
  let client: ReturnType<typeof createServiceClient<typeof GeneratorService>>;
  let work: string;
  let adapterDir: string;
  const weights = Buffer.alloc(5000, 0x2a);
  const events: string[] = [];

  /** A PEFT adapter folder as peft_runner.py writes it, plus the agent's ragtune-adapter.json. */
  async function peftFolder(name: string) {
    const dir = join(work, "src", name);
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, "adapter_config.json"),
      JSON.stringify({ peft_type: "LORA", base_model_name_or_path: "base-7b", r: 16, lora_alpha: 32 }),
    );
    await writeFile(join(dir, "adapter_model.safetensors"), weights);
    await writeFile(join(dir, "ragtune-adapter.json"), JSON.stringify({ job_id: name, base_model: "base-7b" }));
    return dir;
  }

  const ask = (adapter: string) =>
    client.generate({
      question: "How long is the Orrin Canal?",
      contexts: [{ text: "The Orrin Canal is 41 kilometres long.", sourceId: "canal" }],
      model: { backend: "openai", baseModel: "base-7b", adapter },
      sampling: { maxTokens: 16 },
    });

  before(async () => {
    ({ handle, stop: stopNats } = await startNatsForTest("generator-adapter-dir-test"));
    for (const [subject, schema, verb] of [
      [ADAPTER_LOADED_SUBJECT, AdapterLoadedSchema, "loaded"],
      [ADAPTER_FAILED_SUBJECT, AdapterLoadFailedSchema, "failed"],
    ] as const) {
      const subscription = handle.nc.subscribe(subject);
      void (async () => {
        for await (const message of subscription) {
          const model = fromBinary(schema, message.data).model;
          events.push(`${verb} ${model?.backend}/${model?.adapter}`);
        }
      })();
    }
    // The fake vLLM answers with the sha256 of the weights file in the folder it loaded the adapter from.
    fake = await startFakeOpenAiServer({
      models: [{ id: "base-7b", maxModelLen: 4096 }],
      respond: (input) => {
        const output = defaultResponder(input);
        if (!input.adapterPath) return output;
        const loaded = sha256(readFileSync(join(input.adapterPath, "adapter_model.safetensors")));
        return { tokens: [`weights:${loaded.slice(0, 16)}`, ...output.tokens] };
      },
    });
    work = await mkdtemp(join(tmpdir(), "ragtune-generator-adapter-dir-"));
    adapterDir = join(work, "shared", "adapters");
    const storage = createObjectStoreAdapterStorage(handle.objm);
    await storage.put("peft-qa-200", await archiveDirectory(await peftFolder("peft-qa-200")));

    served = await serveGenerator(
      { GENERATOR_OPENAI_BASE_URL: fake.baseUrl, GENERATOR_OPENAI_ADAPTER_DIR: adapterDir },
      handle,
    );
    client = createServiceClient(GeneratorService, served.url);
  });
  after(async () => {
    await served?.close();
    await stopNats?.();
    await fake?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("unpacks the trainer's archive once for concurrent requests, loads it into vLLM and answers with it", async () => {
    const answers = await Promise.all(Array.from({ length: 4 }, () => ask("peft-qa-200")));
    const folder = join(adapterDir, "peft-qa-200");
    for (const answer of answers) {
      assert.equal(answer.model?.adapter, "peft-qa-200");
      assert.match(answer.answer, new RegExp(`^weights:${sha256(weights).slice(0, 16)}\\[base-7b\\+peft-qa-200\\]`));
    }
    assert.deepEqual(await readdir(adapterDir), ["peft-qa-200"]);
    assert.deepEqual((await readdir(folder)).sort(), [
      "adapter_config.json",
      "adapter_model.safetensors",
      "ragtune-adapter.json",
    ]);
    assert.deepEqual(await readFile(join(folder, "adapter_model.safetensors")), weights);
    const loads = fake.requests.filter((r) => r.path === "/v1/load_lora_adapter");
    assert.deepEqual(
      loads.map((r) => r.body),
      [{ lora_name: "peft-qa-200", lora_path: folder }],
    );
    const deadline = Date.now() + 3000;
    while (!events.includes("loaded openai/peft-qa-200") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(events, ["loaded openai/peft-qa-200"]);
    // Served now: a later request neither unpacks nor loads again.
    await ask("peft-qa-200");
    assert.equal(fake.requests.filter((r) => r.path === "/v1/load_lora_adapter").length, 1);
  });

  it("NOT_FOUND for an adapter the trainer never stored", async () => {
    await assert.rejects(ask("peft-nope"), isConnectError(Code.NotFound, /peft-nope/));
    assert.ok(!(await readdir(adapterDir)).includes("peft-nope"));
  });

  it("FAILED_PRECONDITION naming the adapter for a corrupt archive or a checksum mismatch, with no folder left", async () => {
    const bucket = await handle.objm.create("ragtune-adapters");
    await bucket.putBlob({ name: "peft-garbage.tar" }, Buffer.alloc(4096, 0x61));
    const good = await archiveDirectory(await peftFolder("peft-tampered"));
    await bucket.putBlob({ name: "peft-cut.tar" }, good.subarray(0, 1500));
    const tampered = Buffer.from(good);
    tampered[tampered.indexOf(weights.subarray(0, 8))] ^= 1;
    await bucket.putBlob({ name: "peft-tampered.tar", metadata: { sha256: sha256(good) } }, tampered);

    await assert.rejects(
      ask("peft-garbage"),
      isConnectError(Code.FailedPrecondition, /adapter peft-garbage: .*checksum/),
    );
    await assert.rejects(ask("peft-cut"), isConnectError(Code.FailedPrecondition, /adapter peft-cut: .*truncated/));
    await assert.rejects(
      ask("peft-tampered"),
      isConnectError(
        Code.FailedPrecondition,
        new RegExp(`adapter peft-tampered: .*the trainer recorded ${sha256(good)}`),
      ),
    );
    assert.deepEqual(await readdir(adapterDir), ["peft-qa-200"]);
    const loaded = fake.requests.filter((r) => r.path === "/v1/load_lora_adapter").map((r) => r.body?.lora_name);
    assert.deepEqual(loaded, ["peft-qa-200"]);
    const deadline = Date.now() + 3000;
    while (events.filter((e) => e.startsWith("failed")).length < 4 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    // As when vLLM itself cannot load an adapter, each failure is announced (peft-nope: the test before).
    assert.deepEqual(events.filter((e) => e.startsWith("failed")).sort(), [
      "failed openai/peft-cut",
      "failed openai/peft-garbage",
      "failed openai/peft-nope",
      "failed openai/peft-tampered",
    ]);
  });

  it("refuses an archive whose paths leave the adapter folder, writing nothing anywhere", async () => {
    // GNU tar with -P keeps "../" in member names: the classic path-traversal archive.
    const evil = join(work, "evil", "adapter");
    await mkdir(evil, { recursive: true });
    await writeFile(join(evil, "adapter_config.json"), JSON.stringify({ peft_type: "LORA" }));
    await writeFile(join(work, "evil", "escaped.txt"), "pwned");
    execFileSync("tar", ["-P", "--format=ustar", "-cf", "../evil.tar", "adapter_config.json", "../escaped.txt"], {
      cwd: evil,
    });
    const bucket = await handle.objm.create("ragtune-adapters");
    await bucket.putBlob({ name: "peft-evil.tar" }, await readFile(join(work, "evil", "evil.tar")));

    await assert.rejects(
      ask("peft-evil"),
      isConnectError(Code.FailedPrecondition, /adapter peft-evil: .*unsafe path.*\.\.\/escaped\.txt/),
    );
    // "../escaped.txt" would have landed in the adapters folder itself.
    assert.deepEqual(await readdir(adapterDir), ["peft-qa-200"]);
    assert.ok(!fake.requests.some((r) => r.body?.lora_name === "peft-evil"));
  });
});
