/** The generator's build() served on a real socket: gRPC over HTTP/2, real NATS (events, Object Store), real backends. */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { AdapterLoadedSchema } from "@ragtune/contracts/events";
import { GeneratorService } from "@ragtune/contracts/generator";
import { Health, HealthCheckResponse_ServingStatus } from "@ragtune/contracts/grpc-health";
import { Code, type ConnectError, createServiceClient, type NatsHandle } from "@ragtune/runtime";
import { ADAPTER_LOADED_SUBJECT } from "../src/events.js";
import { DEFAULT_READER_WEIGHTS } from "@ragtune/reader";
import { type FakeOpenAiServer, startFakeOpenAiServer, type TinyModelDir, writeTinyModelDir } from "@ragtune/testing";
import { type ServedGenerator, serveGenerator, startNatsForTest } from "./serve-generator.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** A one-file ustar archive, as the trainer ships a reader adapter. */
function ustar(name: string, content: string): Uint8Array {
  const data = Buffer.from(content, "utf8");
  const header = Buffer.alloc(512);
  header.write(name, 0, "latin1");
  header.write("0000644\0", 100, "latin1");
  header.write("0000000\0", 108, "latin1");
  header.write("0000000\0", 116, "latin1");
  header.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124, "latin1");
  header.write("00000000000\0", 136, "latin1");
  header.write("        ", 148, "latin1");
  header.write("0", 156, "latin1");
  header.write("ustar\u000000", 257, "latin1");
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return Buffer.concat([header, padded, Buffer.alloc(1024)]);
}

describe("generator server over a real socket, with real NATS", () => {
  let stopNats: (() => Promise<void>) | undefined;
  let handle: NatsHandle;
  let fake: FakeOpenAiServer;
  let tiny: TinyModelDir;
  let served: ServedGenerator;
  let url: string;
  const loaded: Array<{ backend: string; adapter: string }> = [];

  before(async () => {
    ({ handle, stop: stopNats } = await startNatsForTest("generator-test"));
    const subscription = handle.nc.subscribe(ADAPTER_LOADED_SUBJECT);
    void (async () => {
      for await (const message of subscription) {
        const event = fromBinary(AdapterLoadedSchema, message.data);
        loaded.push({ backend: event.model?.backend ?? "", adapter: event.model?.adapter ?? "" });
      }
    })();
    fake = await startFakeOpenAiServer({ models: [{ id: "base-7b", maxModelLen: 4096 }] });
    tiny = await writeTinyModelDir({ prefix: "ragtune-generator-server-", adapters: ["qa-lora"] });
    // A PEFT adapter folder the fake vLLM can load (it reads adapter_config.json, as vLLM does).
    await mkdir(join(tiny.dir, "vllm-lora"));
    await writeFile(join(tiny.dir, "vllm-lora", "adapter_config.json"), JSON.stringify({ peft_type: "LORA" }));
    const bucket = await handle.objm.create("ragtune-adapters");
    await bucket.putBlob(
      { name: "reader-200.tar" },
      ustar("reader-weights.json", JSON.stringify({ ...DEFAULT_READER_WEIGHTS, bias: -2 })),
    );
    served = await serveGenerator(
      {
        GENERATOR_OPENAI_BASE_URL: fake.baseUrl,
        GENERATOR_OPENAI_API_KEY: "sk-server-test",
        GENERATOR_OPENAI_LORA_PATH_TEMPLATE: join(tiny.dir, "{adapter}"),
        GENERATOR_LLAMACPP_MODEL: tiny.model,
        GENERATOR_LLAMACPP_ADAPTER_DIR: tiny.dir,
        GENERATOR_LLAMACPP_CONTEXT_SIZE: "256",
        GENERATOR_LLAMACPP_THREADS: "1",
        GENERATOR_LLAMACPP_GPU: "false",
        GENERATOR_LLAMACPP_TEMPLATE: "rag-compact@1",
      },
      handle,
      { healthIntervalMs: 200 },
    );
    url = served.url;
  });
  after(async () => {
    await served?.close();
    await stopNats?.();
    await fake?.close();
    await tiny?.remove();
  });

  it("reports SERVING on gRPC health once its backends answer", async () => {
    const health = createServiceClient(Health, url, { tracing: false });
    const deadline = Date.now() + 5000;
    let status = HealthCheckResponse_ServingStatus.UNKNOWN;
    while (Date.now() < deadline) {
      status = (await health.check({ service: "ragtune.generator.v1.GeneratorService" })).status;
      if (status === HealthCheckResponse_ServingStatus.SERVING) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, HealthCheckResponse_ServingStatus.SERVING);
  });

  it("answers with the reader fine-tuned by the trainer, fetched from the NATS Object Store", async () => {
    const client = createServiceClient(GeneratorService, url);
    const response = await client.generate({
      question: "How long is the Orrin Canal?",
      contexts: [
        { text: "The Orrin Canal links the river Velan with the sea. It is 41 kilometres long.", sourceId: "c" },
      ],
      model: { adapter: "reader-200" },
    });
    assert.equal(response.answer, "It is 41 kilometres long.");
    assert.deepEqual(
      [response.model?.backend, response.model?.baseModel, response.model?.adapter],
      ["extractive", "extractive-reader", "reader-200"],
    );
  });

  it("runs llama.cpp in-process with a GGUF LoRA adapter and announces the adapter on NATS", async () => {
    const client = createServiceClient(GeneratorService, url);
    const request = {
      question: "Is it yes?",
      contexts: [{ text: "The answer is yes." }],
      model: { backend: "llamacpp", baseModel: "tiny" },
      sampling: { maxTokens: 8 },
    };
    const base = await client.generate(request);
    const tuned = await client.generate({ ...request, model: { ...request.model, adapter: "qa-lora" } });
    assert.equal(base.templateId, "rag-compact@1");
    assert.equal(tuned.usage?.outputTokens, 8);
    assert.notEqual(tuned.answer, base.answer);
    await client.generate({ ...request, model: { backend: "openai", baseModel: "base-7b", adapter: "vllm-lora" } });
    const deadline = Date.now() + 3000;
    while (loaded.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(loaded.map((e) => `${e.backend}/${e.adapter}`).sort(), [
      "extractive/reader-200",
      "llamacpp/qa-lora",
      "openai/vllm-lora",
    ]);
  });

  it("answers NOT_FOUND and INVALID_ARGUMENT as gRPC status codes over the wire", async () => {
    const client = createServiceClient(GeneratorService, url);
    await assert.rejects(
      client.generate({ question: "q", model: { backend: "llamacpp", baseModel: "tiny", adapter: "nope" } }),
      (e: ConnectError) => e.code === Code.NotFound,
    );
    await assert.rejects(
      client.generate({ question: "" }),
      (e: ConnectError) => e.code === Code.InvalidArgument && /question/.test(e.message),
    );
  });

  it("serves a grpc-js client built from the .proto files alone", async () => {
    const definition = protoLoader.loadSync("ragtune/generator/v1/generator.proto", {
      includeDirs: [resolve(repoRoot, "proto")],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as any;
    const client = new loaded.ragtune.generator.v1.GeneratorService(
      new URL(url).host,
      grpc.credentials.createInsecure(),
    );
    const unary = (method: string, request: object) =>
      new Promise<any>((done, fail) =>
        client[method](request, (error: grpc.ServiceError | null, response: any) =>
          error ? fail(error) : done(response),
        ),
      );
    try {
      const answer = await unary("Generate", {
        question: "How long is the Orrin Canal?",
        contexts: [{ text: "The canal opened in 1880. It is 41 kilometres long.", source_id: "c" }],
        truncation: "TRUNCATION_POLICY_DISABLED",
      });
      assert.equal(answer.answer, "It is 41 kilometres long.");
      assert.equal(answer.model.base_model, "extractive-reader");
      assert.match(answer.template_hash, /^[0-9a-f]{64}$/);
      const listed = await unary("ListModels", {});
      assert.ok(
        listed.models.some((m: { backend: string; kind: string }) => m.backend === "llamacpp" && m.kind === "llamacpp"),
      );
      await assert.rejects(
        unary("Generate", { question: "q", model: { backend: "nope" } }),
        (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND,
      );
      await assert.rejects(
        unary("Generate", { question: "" }),
        (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /question/.test(e.details),
      );
    } finally {
      client.close();
    }
  });
});
