import { QdrantClient } from "@qdrant/js-client-rest";
import { type ChunkFields, chunkFromFields, chunkToFields } from "../chunk-fields.js";
import { describeAll, describeFromStats } from "../collection-info.js";
import {
  BackendUnavailableError,
  type CollectionInfo,
  CollectionNotFoundError,
  type CollectionSpec,
  type CollectionStats,
  type CreateOutcome,
  type DocumentChunks,
  denseQueryVector,
  type ScoredChunk,
  type SearchQuery,
  type StoredChunk,
  type VectorStoreBackend,
} from "../vector-store-backend.js";
import { encodeDocument, encodeQuery } from "./sparse-bm25.js";
import { compareRanked } from "../../lexical/ranking-order.js";
import { fuseByReciprocalRank } from "../reciprocal-rank-fusion.js";

export interface QdrantBackendOptions {
  /** REST URL, e.g. http://localhost:6333. */
  url: string;
  apiKey?: string;
  /** Points per upsert operation. Default 256. */
  upsertBatchSize?: number;
  /** Candidates per list before fusing hybrid results. Default 50. */
  hybridCandidates?: number;
  /** Weight of the dense list in hybrid fusion (the lexical list weighs 1). Default 1. */
  hybridDenseWeight?: number;
  /** Request timeout, ms. Default 30,000. */
  timeoutMs?: number;
}

/** Vector names inside each Qdrant collection. */
export const DENSE_VECTOR = "dense";
export const SPARSE_VECTOR = "bm25";
/** Key of the collection metadata holding the ragtune spec. */
const SPEC_KEY = "ragtune";

interface ChunkPayload extends ChunkFields {
  metadata: Record<string, string>;
}

type QdrantFilter = { must?: unknown[]; should?: unknown[]; must_not?: unknown[] };

function payloadToChunk(id: string | number, payload: ChunkPayload): StoredChunk {
  return chunkFromFields(String(id), payload, payload.metadata ?? {});
}

function metadataFilter(filter: Record<string, string>): QdrantFilter | undefined {
  const must = Object.entries(filter).map(([key, value]) => ({ key: `metadata.${key}`, match: { value } }));
  return must.length ? { must } : undefined;
}

/** Qdrant's error text (`{"status": {"error": "…"}}`) or the HTTP status. */
function describeError(error: unknown): string {
  const e = error as { status?: number; data?: { status?: { error?: string } }; message?: string };
  return e.data?.status?.error ?? e.message ?? String(error);
}

/** fetch's own failures (refused, reset, DNS, timeout), as opposed to bugs. */
function isNetworkFailure(error: unknown): boolean {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const text = `${e.name} ${e.message} ${e.cause?.code ?? ""} ${e.cause?.message ?? ""}`;
  return /fetch failed|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|timeout|TimeoutError|AbortError|socket/i.test(text);
}

/**
 * Qdrant through its official JS client. Each collection has a sparse "bm25" vector (IDF applied by the server)
 * and, when dense, a cosine "dense" vector; payload holds the chunk, and `metadata.<key>` filters search.
 * Qdrant has no multi-point transactions: a batch of documents goes in one batch-update request that first
 * upserts the new chunks (same ids overwrite) and then deletes the documents' chunks past their new length, so a
 * reader never sees a document with chunks missing.
 */
export class QdrantBackend implements VectorStoreBackend {
  readonly kind = "qdrant";
  private readonly client: QdrantClient;
  private readonly specs = new Map<string, CollectionSpec>();
  private readonly upsertBatchSize: number;
  private readonly hybridCandidates: number;
  private readonly hybridDenseWeight: number;

  constructor(options: QdrantBackendOptions) {
    const url = new URL(options.url);
    this.client = new QdrantClient({
      url: `${url.protocol}//${url.hostname}`,
      port: url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 6333,
      https: url.protocol === "https:",
      prefix: url.pathname.replace(/\/+$/, "") || undefined,
      apiKey: options.apiKey,
      timeout: options.timeoutMs ?? 30_000,
      checkCompatibility: false,
    });
    this.upsertBatchSize = options.upsertBatchSize ?? 256;
    this.hybridCandidates = options.hybridCandidates ?? 50;
    this.hybridDenseWeight = options.hybridDenseWeight ?? 1;
  }

  static async connect(options: QdrantBackendOptions): Promise<QdrantBackend> {
    const backend = new QdrantBackend(options);
    await backend.ping();
    return backend;
  }

  async createCollection(spec: CollectionSpec): Promise<CreateOutcome> {
    const existing = await this.readSpec(spec.name);
    if (existing) return { created: false, collection: existing };
    try {
      await this.call(spec.name, () =>
        this.client.api().createCollection({
          collection_name: spec.name,
          vectors:
            spec.embeddingDimensions > 0
              ? { [DENSE_VECTOR]: { size: spec.embeddingDimensions, distance: "Cosine" } }
              : {},
          sparse_vectors: { [SPARSE_VECTOR]: { modifier: "idf" } },
          metadata: { [SPEC_KEY]: { ...spec, createTime: spec.createTime.toISOString() } },
        }),
      );
    } catch (error) {
      // Lost a race with another creator (409): report what is there.
      const raced = await this.readSpec(spec.name);
      if (raced) return { created: false, collection: raced };
      throw error;
    }
    await this.call(spec.name, () =>
      this.client.createPayloadIndex(spec.name, { field_name: "document_id", field_schema: "keyword", wait: true }),
    );
    this.specs.set(spec.name, spec);
    return { created: true, collection: spec };
  }

  async dropCollection(name: string): Promise<boolean> {
    if (!(await this.exists(name))) return false;
    this.specs.delete(name);
    await this.call(name, () => this.client.deleteCollection(name));
    return true;
  }

  getSpec(name: string): Promise<CollectionSpec | undefined> {
    return this.readSpec(name);
  }

  describeCollection(name: string): Promise<CollectionInfo | undefined> {
    return describeFromStats(this, name);
  }

  async listCollections(): Promise<CollectionInfo[]> {
    const { collections } = await this.call("", () => this.client.getCollections());
    const names = collections.map((c) => c.name);
    return describeAll(this, names);
  }

  async upsertDocuments(collection: string, documents: DocumentChunks[]): Promise<void> {
    if (documents.length === 0) return;
    const spec = await this.requireSpec(collection);
    const dense = spec.embeddingDimensions > 0;
    const points = documents.flatMap((d) =>
      d.chunks.map((chunk) => ({
        id: chunk.id,
        vector: {
          [SPARSE_VECTOR]: encodeDocument(chunk.text),
          ...(dense ? { [DENSE_VECTOR]: chunk.vector! } : {}),
        },
        payload: { ...chunkToFields(chunk), metadata: chunk.metadata } satisfies ChunkPayload,
      })),
    );
    const operations: unknown[] = [];
    for (let i = 0; i < points.length; i += this.upsertBatchSize) {
      operations.push({ upsert: { points: points.slice(i, i + this.upsertBatchSize) } });
    }
    operations.push({
      delete: {
        filter: {
          should: documents.map((d) => ({
            must: [
              { key: "document_id", match: { value: d.documentId } },
              { key: "chunk_index", range: { gte: d.chunks.length } },
            ],
          })),
        },
      },
    });
    await this.call(collection, () =>
      this.client.batchUpdate(collection, { wait: true, operations: operations as never }),
    );
  }

  async deleteDocuments(collection: string, documentIds: string[]): Promise<number> {
    if (documentIds.length === 0) return 0;
    const filter = { must: [{ key: "document_id", match: { any: documentIds } }] };
    const { count } = await this.call(collection, () => this.client.count(collection, { filter, exact: true }));
    await this.call(collection, () => this.client.delete(collection, { filter, wait: true }));
    return count;
  }

  async search(collection: string, query: SearchQuery): Promise<ScoredChunk[]> {
    const spec = await this.requireSpec(collection);
    const filter = metadataFilter(query.filter);
    const sparse = encodeQuery(query.text);
    const lexical = (limit: number) =>
      sparse.indices.length === 0
        ? Promise.resolve([])
        : this.query(collection, { query: sparse, using: SPARSE_VECTOR }, limit, filter);
    if (query.mode === "lexical") return lexical(query.topK);
    const vector = denseQueryVector(collection, spec, query);
    const dense = (limit: number) => this.query(collection, { query: vector, using: DENSE_VECTOR }, limit, filter);
    if (query.mode === "dense") return dense(query.topK);
    // Fused here rather than by Qdrant's own RRF, so that both backends weigh and order hybrid results alike.
    const depth = Math.max(query.topK, this.hybridCandidates);
    const [lexicalHits, denseHits] = await Promise.all([lexical(depth), dense(depth)]);
    return fuseByReciprocalRank([lexicalHits, denseHits], query.topK, { weights: [1, this.hybridDenseWeight] });
  }

  /** One ranked query, best first with ties by chunk id (Qdrant leaves the order of equal scores open). */
  private async query(
    collection: string,
    request: Record<string, unknown>,
    limit: number,
    filter: QdrantFilter | undefined,
  ): Promise<ScoredChunk[]> {
    const response = await this.call(collection, () =>
      this.client.query(collection, {
        ...request,
        ...(filter ? { filter } : {}),
        limit,
        with_payload: true,
        with_vector: false,
      } as never),
    );
    return response.points
      .map((point) => ({
        chunk: payloadToChunk(point.id, point.payload as unknown as ChunkPayload),
        score: point.score,
      }))
      .sort((x, y) => compareRanked({ score: x.score, id: x.chunk.id }, { score: y.score, id: y.chunk.id }));
  }

  async stats(collection: string): Promise<CollectionStats | undefined> {
    if (!(await this.exists(collection))) return undefined;
    const documents = new Set<string>();
    let chunkCount = 0;
    let totalCharacters = 0;
    let offset: string | number | undefined;
    do {
      const page = await this.call(collection, () =>
        this.client.scroll(collection, {
          limit: 1000,
          offset,
          with_payload: ["document_id", "char_count"],
          with_vector: false,
        }),
      );
      for (const point of page.points) {
        const payload = point.payload as Partial<ChunkPayload>;
        documents.add(String(payload.document_id));
        totalCharacters += Number(payload.char_count ?? 0);
        chunkCount++;
      }
      offset = (page.next_page_offset ?? undefined) as string | number | undefined;
    } while (offset !== undefined && offset !== null);
    return { documentCount: documents.size, chunkCount, totalCharacters, storageBytes: 0 };
  }

  async ping(): Promise<void> {
    await this.call("", () => this.client.versionInfo());
  }

  async close(): Promise<void> {
    this.specs.clear();
  }

  private async exists(name: string): Promise<boolean> {
    return (await this.call(name, () => this.client.collectionExists(name))).exists;
  }

  private async requireSpec(name: string): Promise<CollectionSpec> {
    const spec = await this.readSpec(name);
    if (!spec) throw new CollectionNotFoundError(name);
    return spec;
  }

  private async readSpec(name: string): Promise<CollectionSpec | undefined> {
    const cached = this.specs.get(name);
    if (cached) return cached;
    if (!(await this.exists(name))) return undefined;
    const info = await this.call(name, () => this.client.getCollection(name));
    const raw = (info.config as { metadata?: Record<string, any> | null }).metadata?.[SPEC_KEY];
    if (!raw) return undefined; // not a ragtune collection
    const spec: CollectionSpec = { ...raw, createTime: new Date(raw.createTime) };
    this.specs.set(name, spec);
    return spec;
  }

  /** Runs a client call, turning Qdrant's failures into the backend's errors. */
  private async call<T>(collection: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 404 && collection) {
        this.specs.delete(collection);
        throw new CollectionNotFoundError(collection);
      }
      if (status === undefined) {
        if (!isNetworkFailure(error)) throw error;
        throw new BackendUnavailableError(`Qdrant unreachable: ${describeError(error)}`, { cause: error });
      }
      if (status === 429 || status >= 500) {
        throw new BackendUnavailableError(`Qdrant answered ${status}: ${describeError(error)}`, { cause: error });
      }
      throw new Error(`Qdrant answered ${status}: ${describeError(error)}`, { cause: error });
    }
  }
}
