/**
 * A deliberately broken retriever for the conformance tests: it forwards every call to a real retriever but
 * returns search results in ascending score order, the one promise it breaks.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { createServiceClient, createServiceServer, type ServiceServer } from "@ragtune/runtime";

export async function startUnsortedRetriever(upstreamUrl: string): Promise<{ url: string; server: ServiceServer }> {
  const upstream = createServiceClient(RetrieverService, upstreamUrl, { tracing: false });
  const impl: ServiceImpl<typeof RetrieverService> = {
    createCollection: (req) => upstream.createCollection(req),
    deleteCollection: (req) => upstream.deleteCollection(req),
    describeCollection: (req) => upstream.describeCollection(req),
    listCollections: (req) => upstream.listCollections(req),
    getCollectionStats: (req) => upstream.getCollectionStats(req),
    ingestDocuments: (requests) => upstream.ingestDocuments(requests),
    async search(req) {
      const res = await upstream.search(req);
      res.results.reverse();
      return res;
    },
  };
  const server = createServiceServer({
    name: "unsorted-retriever",
    services: [{ service: RetrieverService, impl }],
    tracing: false,
  });
  const { url } = await server.listen("127.0.0.1:0");
  return { url, server };
}
