import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { AdapterLoadedSchema, AdapterLoadFailedSchema } from "@ragtune/contracts/events";
import { createLogger } from "@ragtune/runtime";
import { ADAPTER_FAILED_SUBJECT, ADAPTER_LOADED_SUBJECT, createNatsAdapterEvents } from "./events.js";

const model = { backend: "vllm", baseModel: "mistral-7b", adapter: "job-1" };

describe("generator events", () => {
  it("announces adapter loads and failures on their subjects with the model", async () => {
    const sent: { subject: string; schema: DescMessage; message: MessageInitShape<DescMessage> }[] = [];
    const events = createNatsAdapterEvents({
      publishEvent: async (subject, schema, message) => {
        sent.push({ subject, schema, message: message as MessageInitShape<DescMessage> });
      },
    });
    events.adapterLoaded(model, 1.5);
    events.adapterLoadFailed(model, "canary answer differs");
    assert.deepEqual(
      sent.map((s) => [s.subject, s.schema.typeName]),
      [
        [ADAPTER_LOADED_SUBJECT, AdapterLoadedSchema.typeName],
        [ADAPTER_FAILED_SUBJECT, AdapterLoadFailedSchema.typeName],
      ],
    );
    assert.equal(ADAPTER_LOADED_SUBJECT, "ragtune.generator.adapter.loaded");
    const loaded = sent[0].message as { model: typeof model; durationSeconds: number };
    assert.deepEqual(
      { backend: loaded.model.backend, baseModel: loaded.model.baseModel, adapter: loaded.model.adapter },
      model,
    );
    assert.equal(loaded.durationSeconds, 1.5);
    assert.equal((sent[1].message as { error: string }).error, "canary answer differs");
  });

  it("neither throws nor waits when NATS refuses an event: the request goes on and the loss is logged", async () => {
    const lines: string[] = [];
    const logger = createLogger("generator", { write: (line) => lines.push(line) });
    let release: () => void = () => {};
    const events = createNatsAdapterEvents(
      {
        publishEvent: () =>
          new Promise<void>((_, reject) => {
            release = () => reject(new Error("nats down"));
          }),
      },
      logger,
    );
    events.adapterLoaded(model, 0.1);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    const warning = JSON.parse(lines[0]) as { level: string; msg: string; subject: string };
    assert.equal(warning.level, "warn");
    assert.equal(warning.msg, "event not published");
    assert.equal(warning.subject, ADAPTER_LOADED_SUBJECT);
  });
});
