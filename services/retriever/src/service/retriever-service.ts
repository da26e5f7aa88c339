import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { CollectionIndexedSchema } from "@ragtune/contracts/events";
import {
  type Collection,
  CollectionSchema,
  type CreateCollectionRequest,
  type CreateCollectionResponse,
  CreateCollectionResponseSchema,
  type DeleteCollectionRequest,
  type DeleteCollectionResponse,
  DeleteCollectionResponseSchema,
  type DescribeCollectionRequest,
  type DescribeCollectionResponse,
  DescribeCollectionResponseSchema,
  type GetCollectionStatsRequest,
  type GetCollectionStatsResponse,
  GetCollectionStatsResponseSchema,
  type IngestDocumentsRequest,
  type IngestDocumentsResponse,
  IngestDocumentsResponseSchema,
  type ListCollectionsResponse,
  ListCollectionsResponseSchema,
  type RetrieverService,
  type SearchRequest,
  type SearchResponse,
  SearchResponseSchema,
} from "@ragtune/contracts/retriever";
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  type Logger,
  notFound,
  unavailable,
  withSpan,
} from "@ragtune/runtime";
import {
  BackendUnavailableError,
  type CollectionInfo,
  CollectionNotFoundError,
  type CollectionSpec,
  type SearchModeName,
  UnsupportedSearchError,
  type VectorStoreBackend,
} from "../backend/vector-store-backend.js";
import type { Embedder } from "../embeddings/embedder.js";
import { EmbeddingError } from "../embeddings/embedder.js";
import { COLLECTION_INDEXED_SUBJECT, type EventPublisher } from "./event-publisher.js";
import { createIngestBatcher, type IngestLimits } from "./ingest-batcher.js";
import {
  SEARCH_MODE_OF,
  validateCollectionName,
  validateCreateCollection,
  validateDocument,
  validateSearch,
} from "./validation.js";

export interface RetrieverServiceOptions {
  backend: VectorStoreBackend;
  /** Dense vectors; absent: lexical search only. */
  embedder?: Embedder;
  events?: EventPublisher;
  logger?: Logger;
  ingest?: Partial<IngestLimits>;
}

const TRACER = "ragtune.retriever";

/** The retriever's gRPC service: validation and translation around a VectorStoreBackend. */
export class RetrieverServiceImpl implements ServiceImpl<typeof RetrieverService> {
  private readonly backend: VectorStoreBackend;
  private readonly embedder: Embedder | undefined;
  private readonly events: EventPublisher | undefined;
  private readonly logger: Logger | undefined;
  private readonly ingestLimits: Partial<IngestLimits>;

  constructor(options: RetrieverServiceOptions) {
    this.backend = options.backend;
    this.embedder = options.embedder;
    this.events = options.events;
    this.logger = options.logger;
    this.ingestLimits = options.ingest ?? {};
  }

  async createCollection(request: CreateCollectionRequest): Promise<CreateCollectionResponse> {
    const wanted = validateCreateCollection(request);
    let embeddingModel = "";
    let embeddingDimensions = 0;
    if (wanted.dense) {
      const embedder = this.requireEmbedder("dense");
      embeddingModel = embedder.model;
      embeddingDimensions = await this.guard(() => embedder.dimensions());
    }
    const spec: CollectionSpec = {
      name: wanted.name,
      chunkSize: wanted.chunkSize,
      chunkOverlap: wanted.chunkOverlap,
      embeddingModel,
      embeddingDimensions,
      createTime: new Date(),
    };
    const outcome = await this.guard(() => this.backend.createCollection(spec));
    if (!outcome.created) {
      const have = outcome.collection;
      const same =
        have.chunkSize === spec.chunkSize &&
        have.chunkOverlap === spec.chunkOverlap &&
        have.embeddingModel === spec.embeddingModel &&
        have.embeddingDimensions === spec.embeddingDimensions;
      if (!same) {
        throw alreadyExists(
          "collection",
          spec.name,
          `already exists with chunk_size ${have.chunkSize}, chunk_overlap ${have.chunkOverlap}, ` +
            `dense ${have.embeddingDimensions > 0}${have.embeddingModel ? ` (${have.embeddingModel})` : ""}`,
        );
      }
    }
    const info = await this.describe(spec.name);
    return create(CreateCollectionResponseSchema, { collection: info });
  }

  async deleteCollection(request: DeleteCollectionRequest): Promise<DeleteCollectionResponse> {
    const name = validateCollectionName("name", request.name);
    if (!(await this.guard(() => this.backend.dropCollection(name)))) throw notFound("collection", name);
    return create(DeleteCollectionResponseSchema, {});
  }

  async describeCollection(request: DescribeCollectionRequest): Promise<DescribeCollectionResponse> {
    const name = validateCollectionName("name", request.name);
    return create(DescribeCollectionResponseSchema, { collection: await this.describe(name) });
  }

  async listCollections(): Promise<ListCollectionsResponse> {
    const infos = await this.guard(() => this.backend.listCollections());
    return create(ListCollectionsResponseSchema, { collections: infos.map(toCollection) });
  }

  /**
   * Reads the stream in batches; each batch is committed whole before the next is read further. When the stream
   * breaks or a document is invalid, batches already committed stay (whole documents each) and the uncommitted
   * rest is dropped, so the collection never holds part of a document.
   */
  async ingestDocuments(requests: AsyncIterable<IngestDocumentsRequest>): Promise<IngestDocumentsResponse> {
    const started = performance.now();
    let position = 0;
    let spec: CollectionSpec | undefined;
    let batcher: ReturnType<typeof createIngestBatcher> | undefined;
    for await (const request of requests) {
      position++;
      const item = request.item;
      if (position === 1) {
        if (item.case !== "header") throw invalidArgument("header", "the first message must carry the header");
        const name = validateCollectionName("header.collection", item.value.collection);
        spec = await this.guard(() => this.backend.getSpec(name));
        if (!spec) throw notFound("collection", name);
        if (spec.embeddingDimensions > 0) this.requireEmbedder("header.collection", spec);
        batcher = createIngestBatcher({
          spec,
          embedder: spec.embeddingDimensions > 0 ? this.embedder : undefined,
          commit: (documents) =>
            withSpan(TRACER, "ragtune.retriever.ingest.batch", { "ragtune.documents": documents.length }, () =>
              this.guard(() => this.backend.upsertDocuments(name, documents)),
            ),
          limits: this.ingestLimits,
        });
        continue;
      }
      if (item.case === "header")
        throw invalidArgument("header", `only the first message may carry it (message ${position})`);
      if (item.case !== "document") throw invalidArgument("item", `message ${position} carries nothing`);
      validateDocument(item.value, position);
      await this.guardEmbedding(() => batcher!.add(item.value));
    }
    if (!batcher || !spec) throw invalidArgument("header", "the stream carried no header");
    await this.guardEmbedding(() => batcher!.flush());
    const durationSeconds = (performance.now() - started) / 1000;
    const { documents, chunks } = batcher.counts();
    await this.announceIndexed(spec.name, documents, chunks, durationSeconds);
    return create(IngestDocumentsResponseSchema, {
      documentsIndexed: BigInt(documents),
      chunksIndexed: BigInt(chunks),
      durationSeconds,
    });
  }

  async search(request: SearchRequest): Promise<SearchResponse> {
    const query = validateSearch(request);
    const spec = await this.guard(() => this.backend.getSpec(query.collection));
    if (!spec) throw notFound("collection", query.collection);
    const dense = spec.embeddingDimensions > 0;
    const mode: SearchModeName = query.mode ?? (dense && this.embedder ? "hybrid" : "lexical");
    let vector: number[] | undefined;
    if (mode !== "lexical") {
      if (!dense) throw invalidArgument("mode", `collection "${spec.name}" has no dense vectors; use lexical search`);
      const embedder = this.requireEmbedder("mode", spec);
      [vector] = await this.guardEmbedding(() => embedder.embed([query.query]));
    }
    const hits = await this.guard(() =>
      this.backend.search(query.collection, {
        text: query.query,
        topK: query.topK,
        filter: query.filter,
        mode,
        vector,
      }),
    );
    return create(SearchResponseSchema, {
      mode: SEARCH_MODE_OF[mode],
      results: hits.map((hit) => ({
        score: hit.score,
        chunk: {
          id: hit.chunk.id,
          documentId: hit.chunk.documentId,
          index: hit.chunk.index,
          text: hit.chunk.text,
          startOffset: hit.chunk.startOffset,
          endOffset: hit.chunk.endOffset,
          title: hit.chunk.title,
          metadata: hit.chunk.metadata,
        },
      })),
    });
  }

  async getCollectionStats(request: GetCollectionStatsRequest): Promise<GetCollectionStatsResponse> {
    const name = validateCollectionName("name", request.name);
    const stats = await this.guard(() => this.backend.stats(name));
    if (!stats) throw notFound("collection", name);
    return create(GetCollectionStatsResponseSchema, {
      documentCount: BigInt(stats.documentCount),
      chunkCount: BigInt(stats.chunkCount),
      totalCharacters: BigInt(stats.totalCharacters),
      meanChunkCharacters: stats.chunkCount ? stats.totalCharacters / stats.chunkCount : 0,
      storageBytes: BigInt(stats.storageBytes),
    });
  }

  private async describe(name: string): Promise<Collection> {
    const info = await this.guard(() => this.backend.describeCollection(name));
    if (!info) throw notFound("collection", name);
    return toCollection(info);
  }

  /** The embedder, which must be configured and (for an existing collection) be the model it was built with. */
  private requireEmbedder(field: string, spec?: Pick<CollectionSpec, "name" | "embeddingModel">): Embedder {
    if (!this.embedder) {
      throw failedPrecondition(
        `${field}: dense vectors need an embedder (RETRIEVER_EMBEDDER=glove, or RETRIEVER_EMBEDDINGS_URL for an endpoint)`,
      );
    }
    if (spec?.embeddingModel && spec.embeddingModel !== this.embedder.model) {
      throw failedPrecondition(
        `${field}: collection "${spec.name}" was embedded with ${spec.embeddingModel}, ` +
          `the retriever is configured with ${this.embedder.model}`,
      );
    }
    return this.embedder;
  }

  private async announceIndexed(collection: string, documents: number, chunks: number, seconds: number) {
    if (!this.events) return;
    try {
      await this.events.publishEvent(COLLECTION_INDEXED_SUBJECT, CollectionIndexedSchema, {
        // Filled here: the runtime's publishEvent leaves an unset meta empty (its `"meta" in message` test is false
        // for an unset message field in protobuf-es v2).
        meta: { eventId: randomUUID(), time: timestampFromDate(new Date()), source: `retriever@${hostname()}` },
        collection,
        documentsIndexed: BigInt(documents),
        chunksIndexed: BigInt(chunks),
        durationSeconds: seconds,
      });
    } catch (error) {
      // The documents are indexed and searchable; a lost announcement must not turn that into a failure.
      this.logger?.warn("could not publish collection.indexed", { collection, error: (error as Error).message });
    }
  }

  private async guardEmbedding<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof EmbeddingError) throw unavailable(error.message, error);
      throw error;
    }
  }

  /** Backend errors in gRPC terms. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof CollectionNotFoundError) throw notFound("collection", error.collection);
      if (error instanceof UnsupportedSearchError) throw invalidArgument("mode", error.message);
      if (error instanceof EmbeddingError) throw unavailable(error.message, error);
      if (error instanceof BackendUnavailableError) throw unavailable(error.message, error);
      throw error;
    }
  }
}

function toCollection(info: CollectionInfo): Collection {
  return create(CollectionSchema, {
    name: info.name,
    chunking: { chunkSize: info.chunkSize, chunkOverlap: info.chunkOverlap },
    backend: info.backend,
    embeddingModel: info.embeddingModel,
    embeddingDimensions: info.embeddingDimensions,
    documentCount: BigInt(info.documentCount),
    chunkCount: BigInt(info.chunkCount),
    createTime: timestampFromDate(info.createTime),
  });
}
