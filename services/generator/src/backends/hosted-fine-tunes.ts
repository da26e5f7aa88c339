/**
 * Hosted fine-tunes (OpenAI-style fine-tuning APIs) have no weights to load: the provider serves the tuned model
 * under a name of its own. The trainer's agent records that name in the adapter archive (`hosted-fine-tune.json`,
 * written by its `openai` executor), so the generator reads it from there and asks the server for that model.
 */
import { type AdapterArchiveSource, readArchive } from "@ragtune/adapter-archive";
import { failedPrecondition } from "@ragtune/runtime";
import { fetchAdapterArchive } from "./adapter-directory.js";

/** The record the trainer's `openai` executor writes into the adapter's folder (services do not import each other). */
export const HOSTED_FINE_TUNE_FILE = "hosted-fine-tune.json";
/** The record every agent writes beside the adapter's files (job, base model, executor). */
const ADAPTER_RECORD_FILE = "ragtune-adapter.json";

export interface HostedFineTune {
  /** The provider's name for the tuned model, e.g. "ft:gpt-4o-mini-2024-07-18:org:suffix:id". */
  fineTunedModel: string;
  /** Base model the job tuned, when the agent recorded it. */
  baseModel?: string;
  hostedJobId?: string;
}

export interface HostedFineTunes {
  /**
   * The hosted fine-tune behind an adapter id; undefined when there is no such archive or it holds weights (a
   * LoRA adapter). FAILED_PRECONDITION: the record is unreadable; UNAVAILABLE: the store does not answer.
   */
  lookup(adapterId: string): Promise<HostedFineTune | undefined>;
}

const decoder = new TextDecoder();

function parseRecord(adapterId: string, bytes: Uint8Array, file: string): Record<string, unknown> {
  try {
    const value = JSON.parse(decoder.decode(bytes)) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw failedPrecondition(`adapter ${adapterId}: ${file} in its archive is not a JSON object`);
}

export function createHostedFineTunes(archives: AdapterArchiveSource): HostedFineTunes {
  /** Archives never change once written, so what an existing one says is kept; a missing one is asked again. */
  const known = new Map<string, HostedFineTune | null>();

  async function read(adapterId: string): Promise<HostedFineTune | null | undefined> {
    const archive = await fetchAdapterArchive(archives, adapterId);
    if (!archive) return undefined;
    let files: Map<string, Uint8Array>;
    try {
      files = readArchive(archive);
    } catch (error) {
      throw failedPrecondition(`adapter ${adapterId}: archive is unusable: ${(error as Error).message}`);
    }
    const hostedBytes = files.get(HOSTED_FINE_TUNE_FILE);
    if (!hostedBytes) return null;
    const hosted = parseRecord(adapterId, hostedBytes, HOSTED_FINE_TUNE_FILE);
    const model = hosted.fine_tuned_model;
    if (typeof model !== "string" || model === "") {
      throw failedPrecondition(`adapter ${adapterId}: ${HOSTED_FINE_TUNE_FILE} names no fine_tuned_model`);
    }
    const recordBytes = files.get(ADAPTER_RECORD_FILE);
    const record = recordBytes ? parseRecord(adapterId, recordBytes, ADAPTER_RECORD_FILE) : {};
    return {
      fineTunedModel: model,
      baseModel: typeof record.base_model === "string" && record.base_model ? record.base_model : undefined,
      hostedJobId: typeof hosted.hosted_job_id === "string" ? hosted.hosted_job_id : undefined,
    };
  }

  return {
    async lookup(adapterId) {
      if (known.has(adapterId)) return known.get(adapterId) ?? undefined;
      const found = await read(adapterId);
      if (found !== undefined) known.set(adapterId, found);
      return found ?? undefined;
    },
  };
}
