/**
 * The client's HTTP layer. Global fetch (undici) cost about 2.5 ms of CPU per small JSON request on this 2-core
 * machine against 0.55 ms for node:http on the same load (services/generator/bench/throughput.bench.ts prints both),
 * which capped a service at 50 ms backend latency well below the backend's rate; node:http in turn costs about four
 * times the lean HTTP/1.1 client (lean-http.ts), which now carries every cleartext request whose whole body is read.
 * Streams (server-sent events) and https go over node:http/node:https with a keep-alive agent per client.
 * Only what the client uses is offered: status, a header, the body as text or as chunks.
 */
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { createLeanHttpPool, type LeanHttpPool, type LeanResponse } from "./lean-http.js";

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
  /** The caller reads the body as it arrives (server-sent events), not as one text. */
  stream?: boolean;
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
  // One lean pool per origin; a client talks to one server, so this stays one entry.
  const leanPools = new Map<string, LeanHttpPool>();
  const leanPool = (target: URL) => {
    let pool = leanPools.get(target.host);
    if (!pool) {
      pool = createLeanHttpPool({ host: target.hostname.replace(/^\[|\]$/g, ""), port: Number(target.port || 80) });
      leanPools.set(target.host, pool);
    }
    return pool;
  };
  return {
    send(url, request) {
      const target = new URL(url);
      if (target.protocol === "http:" && !request.stream) {
        return leanPool(target)
          .request({
            method: request.method,
            path: `${target.pathname}${target.search}`,
            headers: request.headers,
            body: request.body,
            signal: request.signal,
          })
          .then(leanResponseOf);
      }
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

function leanResponseOf(res: LeanResponse): HttpResponse {
  return {
    ok: res.status >= 200 && res.status < 300,
    status: res.status,
    header: (name) => res.headers[name.toLowerCase()],
    text: () => Promise.resolve(res.body.toString("utf8")),
    body: (async function* () {
      yield res.body;
    })(),
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
