import { stat } from "node:fs/promises";
import * as lancedb from "@lancedb/lancedb";
import { describeAll, describeFromStats } from "../collection-info.js";
import type { Bm25Parameters } from "../../lexical/bm25-index.js";
import { compareRanked } from "../../lexical/ranking-order.js";
import { fuseByReciprocalRank } from "../reciprocal-rank-fusion.js";
import {
  type CollectionInfo,
  CollectionNotFoundError,
  type CollectionSpec,
  type CollectionStats,
  type CreateOutcome,
  type DocumentChunks,
  denseQueryVector,
  type ScoredChunk,
  type SearchQuery,
  type VectorStoreBackend,
} from "../vector-store-backend.js";
import {
  chunkTableSchema,
  chunkToRow,
  decodeSpec,
  documentIdsWhere,
  metadataWhere,
  RESULT_COLUMNS,
  rowToChunk,
  SPEC_METADATA_KEY,
} from "./lancedb-schema.js";
import { LexicalIndexes } from "./lexical-indexes.js";

export interface LanceDbBackendOptions {
  /** Directory (or LanceDB URI) holding one table per collection. */
  uri: string;
  /** Candidates taken from each list before fusing hybrid results, at least topK. Default 50. */
  hybridCandidates?: number;
  /** Weight of the dense list in hybrid fusion (the lexical list weighs 1). Default 1. */
  hybridDenseWeight?: number;
  /** BM25 parameters of lexical search. Default k1 0.9, b 0.4. */
  bm25?: Bm25Parameters;
  /** LanceDB's index cache, bytes. Default 512 MiB (LanceDB's own default, 6 GiB, lets RSS grow with the corpus). */
  indexCacheBytes?: number;
  /** LanceDB's file-metadata cache, bytes. Default 128 MiB (LanceDB's own: 1 GiB). */
  metadataCacheBytes?: number;
  /**
   * How often an open table checks for versions written by other processes (replicas sharing the directory),
   * seconds. Default 1; LanceDB's own default never checks, so a replica would search a stale version forever.
   */
  readConsistencySeconds?: number;
}

/**
 * The embedded default: LanceDB tables on local disk; lexical search by an exact in-memory BM25 index over every
 * row (LanceDB's own full-text index scores indexed and unindexed rows apart, so it could not rank a collection
 * that is still being written); exact cosine kNN when dense.
 */
export class LanceDbBackend implements VectorStoreBackend {
  readonly kind = "lancedb";
  private readonly tables = new Map<string, Promise<lancedb.Table>>();
  private readonly lexicalIndexes: LexicalIndexes;
  /** A collection's spec never changes after creation, so it is read from the table schema once. */
  private readonly specs = new Map<string, CollectionSpec>();

  private constructor(
    private readonly db: lancedb.Connection,
    private readonly options: Required<Omit<LanceDbBackendOptions, "bm25">> & Pick<LanceDbBackendOptions, "bm25">,
  ) {
    this.lexicalIndexes = new LexicalIndexes(options.bm25);
  }

  static async open(options: LanceDbBackendOptions): Promise<LanceDbBackend> {
    const resolved = {
      hybridCandidates: 50,
      hybridDenseWeight: 1,
      indexCacheBytes: 512 * 2 ** 20,
      metadataCacheBytes: 128 * 2 ** 20,
      readConsistencySeconds: 1,
      ...options,
    };
    const session = new lancedb.Session(BigInt(resolved.indexCacheBytes), BigInt(resolved.metadataCacheBytes));
    const db = await lancedb.connect(
      options.uri,
      { readConsistencyInterval: resolved.readConsistencySeconds },
      session,
    );
    return new LanceDbBackend(db, resolved);
  }

  async createCollection(spec: CollectionSpec): Promise<CreateOutcome> {
    const existing = await this.readSpec(spec.name);
    if (existing) return { created: false, collection: existing };
    try {
      const table = await this.db.createEmptyTable(spec.name, chunkTableSchema(spec), { mode: "create" });
      this.tables.set(spec.name, Promise.resolve(table));
      return { created: true, collection: spec };
    } catch (error) {
      // Lost a race with another creator: report what is there.
      const raced = await this.readSpec(spec.name);
      if (raced) return { created: false, collection: raced };
      throw error;
    }
  }

  async dropCollection(name: string): Promise<boolean> {
    if (!(await this.exists(name))) return false;
    this.tables.delete(name);
    this.specs.delete(name);
    this.lexicalIndexes.forget(name);
    await this.db.dropTable(name);
    return true;
  }

  getSpec(name: string): Promise<CollectionSpec | undefined> {
    return this.readSpec(name);
  }

  describeCollection(name: string): Promise<CollectionInfo | undefined> {
    return describeFromStats(this, name);
  }

  async listCollections(): Promise<CollectionInfo[]> {
    return describeAll(this, await this.db.tableNames());
  }

  async upsertDocuments(collection: string, documents: DocumentChunks[]): Promise<void> {
    if (documents.length === 0) return;
    const table = await this.table(collection);
    const spec = await this.specOf(table);
    const dense = spec.embeddingDimensions > 0;
    const rows = documents.flatMap((d) => d.chunks.map((c) => chunkToRow(c, dense)));
    const where = documentIdsWhere(documents.map((d) => d.documentId));
    const before = await table.version();
    if (rows.length === 0) {
      await table.delete(where);
    } else {
      // One merge-insert is one commit: new chunks in, same-id chunks updated, and the documents' chunks that
      // the new version no longer has deleted, so a re-ingested shorter document leaves no stale tail.
      await table
        .mergeInsert("id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .whenNotMatchedBySourceDelete({ where })
        .execute(rows);
    }
    this.lexicalIndexes.afterWrite(collection, before, await table.version(), (index) => {
      for (const document of documents) index.upsertDocument(document.documentId, document.chunks);
    });
  }

  async deleteDocuments(collection: string, documentIds: string[]): Promise<number> {
    if (documentIds.length === 0) return 0;
    const table = await this.table(collection);
    const before = await table.version();
    const result = await table.delete(documentIdsWhere(documentIds));
    this.lexicalIndexes.afterWrite(collection, before, await table.version(), (index) => {
      for (const documentId of documentIds) index.removeDocument(documentId);
    });
    return Number((result as { numDeletedRows?: number }).numDeletedRows ?? 0);
  }

  async search(collection: string, query: SearchQuery): Promise<ScoredChunk[]> {
    const table = await this.table(collection);
    if (query.mode === "lexical") return this.lexical(table, query.text, query.topK, query.filter);
    const where = metadataWhere(query.filter);
    const vector = denseQueryVector(collection, await this.specOf(table), query);
    if (query.mode === "dense") return this.dense(table, vector, query.topK, where);
    const depth = Math.max(query.topK, this.options.hybridCandidates);
    const [lexical, dense] = await Promise.all([
      this.lexical(table, query.text, depth, query.filter),
      this.dense(table, vector, depth, where),
    ]);
    return fuseByReciprocalRank([lexical, dense], query.topK, { weights: [1, this.options.hybridDenseWeight] });
  }

  async stats(collection: string): Promise<CollectionStats | undefined> {
    if (!(await this.exists(collection))) return undefined;
    const table = await this.table(collection);
    const documents = new Set<string>();
    let chunkCount = 0;
    let totalCharacters = 0;
    // Streams the two narrow columns batch by batch rather than materialising the table.
    for await (const batch of table.query().select(["document_id", "char_count"])) {
      const ids = batch.getChild("document_id")!;
      const chars = batch.getChild("char_count")!;
      for (let i = 0; i < batch.numRows; i++) {
        documents.add(ids.get(i));
        totalCharacters += chars.get(i);
      }
      chunkCount += batch.numRows;
    }
    const storageBytes = (await table.stats()).totalBytes ?? 0;
    return { documentCount: documents.size, chunkCount, totalCharacters, storageBytes: Number(storageBytes) };
  }

  async ping(): Promise<void> {
    await this.db.tableNames();
    if (this.options.uri.includes("://")) return;
    await stat(this.options.uri);
  }

  async close(): Promise<void> {
    this.tables.clear();
    this.lexicalIndexes.clear();
    this.db.close();
  }

  /** Compacts small fragments and prunes old versions (search results do not depend on it). */
  async optimize(collection: string): Promise<void> {
    const table = await this.table(collection);
    await table.optimize();
  }

  private async lexical(
    table: lancedb.Table,
    text: string,
    limit: number,
    filter: Record<string, string>,
  ): Promise<ScoredChunk[]> {
    return (await this.lexicalIndexes.current(table)).search(text, limit, filter);
  }

  private async dense(table: lancedb.Table, vector: number[], limit: number, where?: string): Promise<ScoredChunk[]> {
    let query = table.query().nearestTo(vector).distanceType("cosine");
    if (where) query = query.where(where);
    const rows = await query
      .select([...RESULT_COLUMNS, "_distance"])
      .limit(limit)
      .toArray();
    // Exhaustive (no ANN index is built), so exact; re-sorted so that equal distances come back in id order.
    return rows
      .map((row) => ({ chunk: rowToChunk(row), score: 1 - row._distance }))
      .sort((a, b) => compareRanked({ score: a.score, id: a.chunk.id }, { score: b.score, id: b.chunk.id }));
  }

  private async exists(name: string): Promise<boolean> {
    return (await this.db.tableNames()).includes(name);
  }

  private async readSpec(name: string): Promise<CollectionSpec | undefined> {
    const cached = this.specs.get(name);
    if (cached) return cached;
    if (!(await this.exists(name))) return undefined;
    return this.specOf(await this.table(name));
  }

  private async specOf(table: lancedb.Table): Promise<CollectionSpec> {
    const cached = this.specs.get(table.name);
    if (cached) return cached;
    const json = (await table.schema()).metadata.get(SPEC_METADATA_KEY);
    if (!json) throw new Error(`table "${table.name}" is not a ragtune collection (no ${SPEC_METADATA_KEY})`);
    const spec = decodeSpec(json);
    this.specs.set(table.name, spec);
    return spec;
  }

  private async table(name: string): Promise<lancedb.Table> {
    let table = this.tables.get(name);
    if (!table) {
      if (!(await this.exists(name))) throw new CollectionNotFoundError(name);
      table = this.db.openTable(name);
      this.tables.set(name, table);
      table.catch(() => this.tables.delete(name));
    }
    return table;
  }
}
