import { create } from "@bufbuild/protobuf";
import { ModelRefSchema } from "@ragtune/contracts/common";
import { AdapterLoadedSchema, AdapterLoadFailedSchema } from "@ragtune/contracts/events";
import type { Logger, NatsHandle } from "@ragtune/runtime";
import type { AdapterEvents } from "@ragtune/llamacpp";

export const ADAPTER_LOADED_SUBJECT = "ragtune.generator.adapter.loaded";
export const ADAPTER_FAILED_SUBJECT = "ragtune.generator.adapter.failed";

/**
 * The generator's facts on NATS (`ragtune.generator.*`): the only place its subjects and publishes live.
 * Publishing never blocks or fails a request: a lost event is logged.
 */
export function createNatsAdapterEvents(nats: Pick<NatsHandle, "publishEvent">, logger?: Logger): AdapterEvents {
  const publish = (subject: string, send: () => Promise<void>) => {
    send().catch((error) => logger?.warn("event not published", { subject, error }));
  };
  const modelRef = (m: { backend: string; baseModel: string; adapter: string }) =>
    create(ModelRefSchema, { backend: m.backend, baseModel: m.baseModel, adapter: m.adapter });
  return {
    adapterLoaded(model, durationSeconds) {
      publish(ADAPTER_LOADED_SUBJECT, () =>
        nats.publishEvent(ADAPTER_LOADED_SUBJECT, AdapterLoadedSchema, { model: modelRef(model), durationSeconds }),
      );
    },
    adapterLoadFailed(model, error) {
      publish(ADAPTER_FAILED_SUBJECT, () =>
        nats.publishEvent(ADAPTER_FAILED_SUBJECT, AdapterLoadFailedSchema, { model: modelRef(model), error }),
      );
    },
  };
}
