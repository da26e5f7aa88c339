import type * as lancedb from "@lancedb/lancedb";
import { Bm25Index, type Bm25Parameters } from "../../lexical/bm25-index.js";
import { RESULT_COLUMNS, rowToChunk } from "./lancedb-schema.js";

interface Entry {
  /** The table version the index reflects exactly. */
  version: number;
  index: Bm25Index;
}

/**
 * One exact BM25 index per LanceDB table, held in memory and tied to the table version it reflects: this
 * process's own writes are applied to it as they commit; any other change (another replica writing to the same
 * directory, a compaction) makes the next search rebuild it from the table, so a search never ranks with stale
 * statistics or misses rows.
 */
export class LexicalIndexes {
  private readonly entries = new Map<string, Entry>();
  private readonly loads = new Map<string, Promise<Entry>>();

  constructor(private readonly parameters?: Bm25Parameters) {}

  /** The index of the table as it is now. */
  async current(table: lancedb.Table): Promise<Bm25Index> {
    const version = await table.version();
    const entry = this.entries.get(table.name);
    if (entry?.version === version) return entry.index;
    const key = `${table.name}@${version}`;
    let load = this.loads.get(key);
    if (!load) {
      load = this.load(table, version).finally(() => this.loads.delete(key));
      this.loads.set(key, load);
    }
    const loaded = await load;
    const latest = this.entries.get(table.name);
    if (!latest || latest.version < loaded.version) this.entries.set(table.name, loaded);
    return loaded.index;
  }

  /**
   * After this process committed one write that took the table from `before` to `after`: applies it to the index
   * when nothing else changed in between, else forgets the index so the next search rebuilds it.
   */
  afterWrite(name: string, before: number, after: number, apply: (index: Bm25Index) => void): void {
    const entry = this.entries.get(name);
    if (entry && entry.version === before && after === before + 1) {
      apply(entry.index);
      entry.version = after;
    } else {
      this.entries.delete(name);
    }
  }

  forget(name: string): void {
    this.entries.delete(name);
  }

  clear(): void {
    this.entries.clear();
  }

  private async load(table: lancedb.Table, version: number): Promise<Entry> {
    const index = new Bm25Index(this.parameters);
    // The scan may see writes newer than `version`; that only makes the entry look older than it is (the next
    // search rebuilds once more, and re-applying this process's own writes is idempotent), never newer.
    for await (const batch of table.query().select(RESULT_COLUMNS)) {
      const [id, documentId, chunkIndex, text, startOffset, endOffset, title, metadata] = RESULT_COLUMNS.map(
        (name) => batch.getChild(name)!,
      );
      for (let i = 0; i < batch.numRows; i++) {
        index.addChunk(
          rowToChunk({
            id: id!.get(i),
            document_id: documentId!.get(i),
            chunk_index: chunkIndex!.get(i),
            text: text!.get(i),
            start_offset: startOffset!.get(i),
            end_offset: endOffset!.get(i),
            title: title!.get(i),
            metadata_json: metadata!.get(i),
          }),
        );
      }
    }
    return { version, index };
  }
}
