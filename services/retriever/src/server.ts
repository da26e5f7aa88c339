import { mkdir } from "node:fs/promises";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { type BuiltService, failedPrecondition, type ServiceContext } from "@ragtune/runtime";
import { LanceDbBackend } from "./backend/lancedb/lancedb-backend.js";
import { QdrantBackend } from "./backend/qdrant/qdrant-backend.js";
import type { VectorStoreBackend } from "./backend/vector-store-backend.js";
import type { retrieverSettings } from "./config.js";
import type { Embedder } from "./embeddings/embedder.js";
import { createOpenAiEmbedder } from "./embeddings/openai-embedder.js";
import { RetrieverServiceImpl } from "./service/retriever-service.js";

type RetrieverContext = ServiceContext<typeof retrieverSettings>;
type RetrieverConfig = RetrieverContext["config"];

/** The vector store named by the configuration. */
export async function createBackendFromConfig(config: RetrieverConfig): Promise<VectorStoreBackend> {
  if (config.backend === "qdrant") {
    if (!config.qdrantUrl) throw failedPrecondition("RETRIEVER_BACKEND=qdrant needs QDRANT_URL");
    return QdrantBackend.connect({ url: config.qdrantUrl, apiKey: config.qdrantApiKey });
  }
  if (!config.dataDir.includes("://")) await mkdir(config.dataDir, { recursive: true });
  return LanceDbBackend.open({
    uri: config.dataDir,
    indexCacheBytes: config.lancedbIndexCacheMb * 2 ** 20,
    metadataCacheBytes: config.lancedbMetadataCacheMb * 2 ** 20,
    readConsistencySeconds: config.lancedbReadConsistencySeconds,
  });
}

export function createEmbedderFromConfig(config: RetrieverConfig): Embedder | undefined {
  if (!config.embeddingsUrl) return undefined;
  return createOpenAiEmbedder({
    url: config.embeddingsUrl,
    model: config.embeddingsModel,
    apiKey: config.embeddingsApiKey,
    batchSize: config.embeddingsBatchSize,
  });
}

/** Builds the retriever for runService: its backend, the service, readiness and shutdown. */
export async function build(ctx: RetrieverContext): Promise<BuiltService> {
  const backend = await createBackendFromConfig(ctx.config);
  const impl = new RetrieverServiceImpl({
    backend,
    embedder: createEmbedderFromConfig(ctx.config),
    events: ctx.nats,
    logger: ctx.logger,
  });
  return {
    services: [{ service: RetrieverService, impl }],
    readiness: [{ name: `backend:${backend.kind}`, check: () => backend.ping() }],
    onShutdown: () => backend.close(),
  };
}
