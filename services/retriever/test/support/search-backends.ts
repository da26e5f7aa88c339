import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LanceDbBackend } from "../../src/backend/lancedb/lancedb-backend.js";
import { QdrantBackend } from "../../src/backend/qdrant/qdrant-backend.js";
import type { VectorStoreBackend } from "../../src/backend/vector-store-backend.js";
import { startFakeQdrantServer } from "./fake-qdrant-server.js";

export interface OpenedBackend {
  backend: VectorStoreBackend;
  close(): Promise<void>;
}

export interface SearchBackendCase {
  name: string;
  /** false, or why this backend cannot run here. */
  skip: false | string;
  /** A test stand-in (checks requests, scores by brute force): right for ordering, too slow for whole corpora. */
  standIn: boolean;
  open(): Promise<OpenedBackend>;
}

const QDRANT_OPENAPI = resolve(fileURLToPath(import.meta.url), "../../../../../../shared/qdrant/openapi-v1.19.x.json");

/**
 * Every backend the ordering contract is tested on: embedded LanceDB always; Qdrant live where QDRANT_URL is set,
 * else the project's Qdrant test server (which checks each request against Qdrant's OpenAPI description).
 */
export const SEARCH_BACKENDS: SearchBackendCase[] = [
  {
    name: "lancedb",
    skip: false,
    standIn: false,
    async open() {
      const dir = await mkdtemp(join(tmpdir(), "ragtune-retriever-backend-"));
      const backend = await LanceDbBackend.open({ uri: dir });
      return {
        backend,
        close: async () => {
          await backend.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  process.env.QDRANT_URL
    ? {
        name: "qdrant (live, QDRANT_URL)",
        skip: false,
        standIn: false,
        async open() {
          const backend = await QdrantBackend.connect({
            url: process.env.QDRANT_URL!,
            apiKey: process.env.QDRANT_API_KEY,
          });
          return { backend, close: () => backend.close() };
        },
      }
    : {
        name: "qdrant (test server)",
        standIn: true,
        skip: existsSync(QDRANT_OPENAPI)
          ? false
          : `no ${QDRANT_OPENAPI}: Qdrant's OpenAPI description is outside the repository`,
        async open() {
          const server = await startFakeQdrantServer(QDRANT_OPENAPI);
          const backend = await QdrantBackend.connect({ url: server.url });
          return {
            backend,
            close: async () => {
              await backend.close();
              await server.close();
            },
          };
        },
      },
];
