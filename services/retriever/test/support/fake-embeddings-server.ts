import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hashedBagOfWords } from "./hashed-vectors.js";

export interface FakeEmbeddingsServer {
  url: string;
  /** Requests received, for assertions. */
  requests: { model: string; input: string[]; authorization?: string }[];
  /** Makes the next requests answer with this HTTP status. */
  failWith(status: number | undefined): void;
  close(): Promise<void>;
}

/**
 * A local stand-in for an OpenAI-compatible embeddings server (the remote paid API), so the real client code runs
 * against real HTTP. Vectors are hashed bags of words: similar texts get similar vectors.
 */
export async function startFakeEmbeddingsServer(dimensions = 64): Promise<FakeEmbeddingsServer> {
  const requests: FakeEmbeddingsServer["requests"] = [];
  let failure: number | undefined;
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (part) => {
      body += part;
    });
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/embeddings") {
        res.writeHead(404).end();
        return;
      }
      if (failure) {
        res.writeHead(failure, { "content-type": "application/json" }).end('{"error":{"message":"overloaded"}}');
        return;
      }
      const { model, input } = JSON.parse(body) as { model: string; input: string[] };
      requests.push({ model, input, authorization: req.headers.authorization });
      const data = input.map((text, index) => ({
        object: "embedding",
        index,
        embedding: hashedBagOfWords(text, dimensions),
      }));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", model, data, usage: { prompt_tokens: 0, total_tokens: 0 } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failWith(status) {
      failure = status;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
