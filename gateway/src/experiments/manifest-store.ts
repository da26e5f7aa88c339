/**
 * Where the gateway publishes split manifests for the trainer and its node agents: the NATS Object Store
 * (nats-obj://bucket/name), so agents on other machines read them without a filesystem shared with the gateway.
 */
import { type NatsHandle, openObjectStore } from "@ragtune/runtime";

export interface ManifestStore {
  /** Stores the manifest's bytes under name; returns the URI a training job references. */
  publish(name: string, bytes: Uint8Array): Promise<string>;
}

export const DEFAULT_MANIFEST_BUCKET = "ragtune-manifests";

export function createObjectStoreManifestStore(
  objm: NatsHandle["objm"],
  bucket = DEFAULT_MANIFEST_BUCKET,
): ManifestStore {
  return {
    async publish(name, bytes) {
      const store = await openObjectStore(objm, bucket);
      await store.putBlob({ name, description: "ragtune split manifest" }, bytes);
      return `nats-obj://${bucket}/${name}`;
    },
  };
}
