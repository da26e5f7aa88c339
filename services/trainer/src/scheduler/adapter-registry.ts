/**
 * The adapters trained jobs produced: one record per succeeded job (adapter id = job id), read straight from the
 * store so every replica answers alike without a cache.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Adapter, type AdapterUpload, AdapterSchema, type Job } from "@ragtune/contracts/trainer";
import { notFound } from "@ragtune/runtime";
import type { RecordStore } from "../store/record-store.js";
import { msOf } from "./job-queue.js";

/** The adapter record of a job whose agent uploaded `upload`. */
export function adapterOf(job: Job, upload: AdapterUpload, nowMs: number): Adapter {
  return create(AdapterSchema, {
    adapterId: job.jobId,
    baseModel: job.spec?.baseModel ?? "",
    spec: job.spec,
    jobId: job.jobId,
    uri: upload.uri,
    sha256: upload.sha256,
    sizeBytes: upload.sizeBytes,
    metrics: upload.metrics,
    // An agent that did not hash the pool it read: the manifest's hash names the same data.
    trainingDataSha256: upload.trainingDataSha256 || job.spec?.trainingData?.manifestSha256 || "",
    createTime: timestampFromMs(nowMs),
  });
}

export class AdapterRegistry {
  constructor(private readonly store: RecordStore<Adapter>) {}

  /** Stores the adapter (again, unchanged, when an agent's repeated report gets here twice). */
  async save(adapter: Adapter): Promise<void> {
    await this.store.put(adapter.adapterId, adapter);
  }

  /** Newest first; every base model when `baseModel` is empty. */
  async list(baseModel: string): Promise<Adapter[]> {
    const all = (await this.store.list()).map((r) => r.value);
    return all
      .filter((a) => !baseModel || a.baseModel === baseModel)
      .sort((a, b) => msOf(b.createTime) - msOf(a.createTime) || a.adapterId.localeCompare(b.adapterId));
  }

  async get(adapterId: string): Promise<Adapter> {
    const record = await this.store.get(adapterId);
    if (!record) throw notFound("adapter", adapterId);
    return record.value;
  }
}
