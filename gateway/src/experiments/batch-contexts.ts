/**
 * A cell's view of its questions' retrieved chunks: read a judge batch at a time, when the batch is first needed,
 * and let go once the batch's records are written. Generation runs a bounded number of batches ahead of the
 * writer, so a cell holds the chunks of those few batches whatever the number of questions; reading a batch at
 * once makes one round of store calls per batch instead of a wait before every question.
 */
import type { QaItem } from "@ragtune/datasets";
import type { ContextLookup, RetrievedContext } from "./dataset-preparation.js";

export type BatchChunks = ReadonlyMap<string, readonly RetrievedContext[]>;

export class BatchContexts {
  private readonly batches = new Map<number, Promise<BatchChunks>>();

  constructor(
    private readonly lookup: ContextLookup,
    private readonly itemsOf: (batch: number) => readonly QaItem[],
    /** The cell's: a cancelled cell stops waiting for the store. */
    private readonly signal?: AbortSignal,
  ) {}

  /** The batch's chunks by item id; read once however many of its questions ask. */
  of(batch: number): Promise<BatchChunks> {
    let reading = this.batches.get(batch);
    if (!reading) {
      reading = Promise.all(
        this.itemsOf(batch).map(
          async (item) => [item.id, (await this.lookup.get(item.id, this.signal)) ?? []] as const,
        ),
      ).then((entries) => new Map(entries));
      this.batches.set(batch, reading);
    }
    return reading;
  }

  /** The batch's records are written: nothing of this cell reads its chunks again. */
  release(batch: number): void {
    this.batches.delete(batch);
  }
}
