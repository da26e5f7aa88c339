/**
 * The QA pairs of a job, read from its split manifest with the checksum verified, in the shape executors use.
 */
import type { JobSpec } from "@ragtune/contracts/trainer";
import { loadTrainingPool, type ManifestItem, ManifestError, type ObjectReader } from "@ragtune/datasets";
import { userError } from "./executors/executor.js";

export interface TrainingPair {
  id: string;
  question: string;
  answer: string;
  answers: string[];
  /** Chunks the RAG prompt shows: the item's retrieved contexts, else its evidence passages. */
  contexts: { text: string; sourceId?: string }[];
}

export function toTrainingPair(item: ManifestItem): TrainingPair {
  const contexts = item.contexts.length
    ? item.contexts.map((c) => ({ text: c.text, sourceId: c.sourceId }))
    : item.evidence.map((text, i) => ({ text, sourceId: `evidence-${i + 1}` }));
  return {
    id: item.id,
    question: item.question,
    answer: item.answer,
    answers: item.answers.length ? item.answers : [item.answer],
    contexts,
  };
}

/**
 * Loads and verifies the pairs; a wrong checksum, missing pool or size mismatch is the submitter's error. An agent
 * reads the manifest its trainer admitted (an object, or a file under the trainer's allow-listed folders): any
 * regular file within the byte and time limits, never a URL.
 */
export async function loadTrainingPairs(
  spec: JobSpec,
  readObject?: ObjectReader,
): Promise<{ pairs: TrainingPair[]; sha256: string }> {
  const ref = spec.trainingData;
  if (!ref) throw userError("the job has no training_data");
  try {
    const { pool, manifestSha256 } = await loadTrainingPool(ref, { readObject, roots: "any" });
    if (ref.size && ref.size > pool.items.length) {
      throw userError(`training_data.size ${ref.size} is larger than pool "${ref.pool}" (${pool.items.length} pairs)`);
    }
    const items = ref.size ? pool.items.slice(0, ref.size) : pool.items;
    if (items.length === 0) throw userError(`pool "${ref.pool}" is empty`);
    return { pairs: items.map(toTrainingPair), sha256: pool.sha256 || manifestSha256 };
  } catch (error) {
    if (error instanceof ManifestError) throw userError(error.message);
    throw error;
  }
}
