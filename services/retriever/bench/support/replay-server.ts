/**
 * A retriever process whose backend only replays search results recorded beforehand (REPLAY_FILE: JSON of
 * [query text, hits][] and the collection's spec): the gRPC server, telemetry and service of src/main.ts, no search.
 * Started by startReplayProcess; prints the same "listening" line as the retriever.
 */
import { readFileSync } from "node:fs";
import { RetrieverService } from "@ragtune/contracts/retriever";
import { createServiceServer, initTelemetry } from "@ragtune/runtime";
import type {
  CollectionSpec,
  ScoredChunk,
  SearchQuery,
  VectorStoreBackend,
} from "../../src/backend/vector-store-backend.js";
import { RetrieverServiceImpl } from "../../src/service/retriever-service.js";

const telemetry = initTelemetry({ serviceName: "ragtune-retriever-replay" });
const recorded = JSON.parse(readFileSync(process.env.REPLAY_FILE!, "utf8")) as {
  spec: CollectionSpec;
  results: [string, ScoredChunk[]][];
};
const spec = { ...recorded.spec, createTime: new Date(recorded.spec.createTime) };
const results = new Map(recorded.results);
const replay = {
  kind: "replay",
  getSpec: async (name: string) => (name === spec.name ? spec : undefined),
  search: async (_collection: string, query: SearchQuery) => results.get(query.text) ?? [],
  ping: async () => {},
} as unknown as VectorStoreBackend;
const server = createServiceServer({
  name: "retriever-replay",
  services: [{ service: RetrieverService, impl: new RetrieverServiceImpl({ backend: replay }) }],
});
const { url } = await server.listen("127.0.0.1:0");
process.stdout.write(`${JSON.stringify({ event: "listening", service: "retriever-replay", url })}\n`);
process.once("SIGTERM", () => {
  void server
    .close(1000)
    .then(() => telemetry.shutdown())
    .then(() => process.exit(0));
});
