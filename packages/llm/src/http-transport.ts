/**
 * The client's HTTP layer on node:http/node:https with a keep-alive agent per client. Global fetch (undici) cost
 * about 2.5 ms of CPU per small JSON request on this 2-core machine against 0.55 ms for node:http on the same load
 * (services/generator/bench/throughput.bench.ts prints both), which capped a service at 50 ms backend latency well
 * below the backend's rate. Only what the client uses is offered: status, a header, the body as text or as chunks.
 */
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export interface HttpResponse {
  readonly ok: boolean;
  readonly status: number;
  header(name: string): string | undefined;
  /** The whole body as UTF-8. */
  text(): Promise<string>;
  /** The body as it arrives (for server-sent events). */
  readonly body: AsyncIterable<Uint8Array>;
}

export interface HttpRequest {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface HttpTransport {
  send(url: string, request: HttpRequest): Promise<HttpResponse>;
}

export function createHttpTransport(): HttpTransport {
  // Sockets are reused across requests (no TCP handshake per call); the client's limiter bounds how many are open.
  // Idle ones do not keep the process alive.
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, maxFreeSockets: 256 }),
    "https:": new HttpsAgent({ keepAlive: true, maxFreeSockets: 256 }),
  };
  return {
    send(url, request) {
      const target = new URL(url);
      const secure = target.protocol === "https:";
      if (!secure && target.protocol !== "http:") {
        return Promise.reject(new TypeError(`unsupported protocol ${target.protocol} in ${target.origin}`));
      }
      const headers: Record<string, string | number> = { ...request.headers };
      if (request.body !== undefined) headers["content-length"] = Buffer.byteLength(request.body);
      return new Promise<HttpResponse>((resolve, reject) => {
        const send = secure ? httpsRequest : httpRequest;
        const req = send(
          target,
          { method: request.method, headers, agent: agents[secure ? "https:" : "http:"], signal: request.signal },
          (res) => resolve(responseOf(res)),
        );
        req.on("error", reject);
        req.end(request.body);
      });
    },
  };
}

function responseOf(res: IncomingMessage): HttpResponse {
  const status = res.statusCode ?? 0;
  return {
    ok: status >= 200 && status < 300,
    status,
    header(name) {
      const value = res.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(", ") : value;
    },
    text() {
      // Plain events: an async iterator over the stream costs more CPU than the rest of reading a small body.
      return new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        res.once("error", reject);
        // Closed before the whole body (the request was aborted, the server hung up): never leave the caller waiting.
        res.once("close", () => {
          if (!res.complete) reject(new Error("response closed before its end"));
        });
      });
    },
    body: res,
  };
}
