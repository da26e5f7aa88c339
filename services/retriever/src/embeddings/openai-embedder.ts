import { type Embedder, EmbeddingError } from "./embedder.js";

export interface OpenAiEmbedderOptions {
  /** Server base URL (e.g. http://localhost:8080), or its /v1 or /v1/embeddings URL. */
  url: string;
  model: string;
  apiKey?: string;
  /** Texts per request. Default 64. */
  batchSize?: number;
  /** Per-request timeout, ms. Default 60,000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export function embeddingsEndpoint(url: string): string {
  const base = url.replace(/\/+$/, "");
  if (base.endsWith("/v1/embeddings")) return base;
  if (base.endsWith("/v1")) return `${base}/embeddings`;
  return `${base}/v1/embeddings`;
}

interface EmbeddingsResponse {
  data?: { index?: number; embedding?: unknown }[];
}

/** Client of an OpenAI-compatible POST /v1/embeddings (OpenAI, TEI, Ollama, vLLM, llama.cpp server). */
export function createOpenAiEmbedder(options: OpenAiEmbedderOptions): Embedder {
  const endpoint = embeddingsEndpoint(options.url);
  const batchSize = options.batchSize ?? 64;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const doFetch = options.fetch ?? fetch;
  let knownDimensions: number | undefined;

  async function embedBatch(input: string[]): Promise<number[][]> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    let response: Response;
    try {
      response = await doFetch(endpoint, {
        method: "POST",
        headers,
        body: JSON.stringify({ model: options.model, input, encoding_format: "float" }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new EmbeddingError(`embeddings endpoint ${endpoint} unreachable: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!response.ok) {
      const body = (await response.text().catch(() => "")).slice(0, 300);
      throw new EmbeddingError(`embeddings endpoint ${endpoint} answered ${response.status}: ${body}`);
    }
    const json = (await response.json()) as EmbeddingsResponse;
    const data = json.data;
    if (!Array.isArray(data) || data.length !== input.length) {
      throw new EmbeddingError(
        `embeddings endpoint ${endpoint} returned ${data?.length ?? "no"} vectors for ${input.length} inputs`,
      );
    }
    const vectors: number[][] = new Array(input.length);
    data.forEach((item, position) => {
      const at = typeof item.index === "number" ? item.index : position;
      if (!Array.isArray(item.embedding) || at < 0 || at >= input.length) {
        throw new EmbeddingError(`embeddings endpoint ${endpoint} returned a malformed item at ${position}`);
      }
      vectors[at] = item.embedding as number[];
    });
    for (const vector of vectors) {
      if (!vector) throw new EmbeddingError(`embeddings endpoint ${endpoint} skipped an input`);
      if (knownDimensions !== undefined && vector.length !== knownDimensions) {
        throw new EmbeddingError(
          `embeddings endpoint ${endpoint} changed dimensions ${knownDimensions} → ${vector.length}`,
        );
      }
      knownDimensions ??= vector.length;
    }
    return vectors;
  }

  return {
    model: options.model,
    async dimensions() {
      if (knownDimensions === undefined) await embedBatch(["dimension probe"]);
      return knownDimensions!;
    },
    async embed(texts) {
      const vectors: number[][] = [];
      for (let i = 0; i < texts.length; i += batchSize)
        vectors.push(...(await embedBatch(texts.slice(i, i + batchSize))));
      return vectors;
    },
  };
}
