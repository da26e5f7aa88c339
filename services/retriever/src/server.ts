import { mkdir } from "node:fs/promises";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { type BuiltService, ConfigError, failedPrecondition, type Logger, type ServiceContext } from "@ragtune/runtime";
import { LanceDbBackend } from "./backend/lancedb/lancedb-backend.js";
import { QdrantBackend } from "./backend/qdrant/qdrant-backend.js";
import type { VectorStoreBackend } from "./backend/vector-store-backend.js";
import type { retrieverSettings } from "./config.js";
import type { Embedder } from "./embeddings/embedder.js";
import { createGloveEmbedder } from "./embeddings/glove-embedder.js";
import { createOpenAiEmbedder } from "./embeddings/openai-embedder.js";
import { RetrieverServiceImpl } from "./service/retriever-service.js";

type RetrieverContext = ServiceContext<typeof retrieverSettings>;
type RetrieverConfig = RetrieverContext["config"];

/**
 * Word vectors are a much weaker ranker than BM25 (BioASQ evidence hit@5 0.45 against 0.92): at equal weight their
 * ranks would overrule BM25's; at 0.2 they reorder its near-ties (measured in services/retriever/README.md).
 */
const GLOVE_HYBRID_DENSE_WEIGHT = 0.2;

function hybridDenseWeight(config: RetrieverConfig): number {
  return config.hybridDenseWeight ?? (config.embedder === "glove" ? GLOVE_HYBRID_DENSE_WEIGHT : 1);
}

/** The vector store named by the configuration. */
export async function createBackendFromConfig(config: RetrieverConfig): Promise<VectorStoreBackend> {
  if (config.backend === "qdrant") {
    if (!config.qdrantUrl) throw failedPrecondition("RETRIEVER_BACKEND=qdrant needs QDRANT_URL");
    return QdrantBackend.connect({
      url: config.qdrantUrl,
      apiKey: config.qdrantApiKey,
      hybridDenseWeight: hybridDenseWeight(config),
    });
  }
  if (!config.dataDir.includes("://")) await mkdir(config.dataDir, { recursive: true });
  return LanceDbBackend.open({
    uri: config.dataDir,
    indexCacheBytes: config.lancedbIndexCacheMb * 2 ** 20,
    metadataCacheBytes: config.lancedbMetadataCacheMb * 2 ** 20,
    readConsistencySeconds: config.lancedbReadConsistencySeconds,
    hybridDenseWeight: hybridDenseWeight(config),
  });
}

/** The embedder named by RETRIEVER_EMBEDDER (unset: the endpoint when one is configured), or none. */
export function createEmbedderFromConfig(config: RetrieverConfig, logger?: Logger): Embedder | undefined {
  const choice = config.embedder ?? (config.embeddingsUrl ? "openai" : "none");
  if (choice === "glove") {
    const glove = createGloveEmbedder({ cacheDir: config.gloveCacheDir, url: config.gloveUrl, logger });
    // Load in the background so the first dense call does not wait for it; lexical search never does.
    glove.ready().then(
      () => logger?.info("word vectors loaded", { model: glove.model }),
      (error) => logger?.error("word vectors unavailable; dense search fails until they load", { error }),
    );
    return glove;
  }
  if (choice === "none") return undefined;
  if (!config.embeddingsUrl) throw new ConfigError("RETRIEVER_EMBEDDER", "openai needs RETRIEVER_EMBEDDINGS_URL");
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
    embedder: createEmbedderFromConfig(ctx.config, ctx.logger),
    events: ctx.nats,
    logger: ctx.logger,
  });
  return {
    services: [{ service: RetrieverService, impl }],
    readiness: [{ name: `backend:${backend.kind}`, check: () => backend.ping() }],
    onShutdown: () => backend.close(),
  };
}
