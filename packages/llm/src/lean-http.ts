/**
 * A small HTTP/1.1 client on node:net for cleartext requests whose whole response the caller reads (JSON
 * completions, model listings). node:http's ClientRequest/IncomingMessage/Agent machinery cost 0.7-1.0 ms of CPU per
 * 6 KB completion request on this 2-core machine against 0.2 ms for one write of the request and an in-place parse of
 * the response (services/generator/README.md, Bench): at 50 ms backend latency and 32 requests in flight that
 * difference is a large share of what a service can spend per request. Streams (server-sent events) and https stay on
 * node:http/node:https (http-transport.ts).
 *
 * What it speaks: one request per connection at a time, keep-alive connections reused newest first, responses framed
 * by content-length, chunked transfer coding, or the end of the connection; 1xx interim responses skipped.
 */
import net from "node:net";

export interface LeanResponse {
  status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export interface LeanRequest {
  method: string;
  /** Path and query, e.g. "/v1/chat/completions". */
  path: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface LeanHttpPool {
  request(request: LeanRequest): Promise<LeanResponse>;
  /** Closes every idle connection (requests in flight end on their own). */
  close(): void;
}

/** Larger response heads are refused rather than buffered without end (node:http's default limit is 16 KiB). */
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF = Buffer.from("\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");

class ProtocolError extends Error {
  readonly code = "HPE_INVALID_RESPONSE";
}

/** A connection closed before any byte of the response: on a reused connection, the server's idle close raced us. */
class ClosedBeforeResponse extends Error {
  readonly code = "ECONNRESET";
}

/** Parses one response incrementally; `push` returns the response once complete. */
class ResponseParser {
  private pending: Buffer = Buffer.alloc(0);
  private status = 0;
  private headers: Record<string, string> = {};
  private state: "head" | "length" | "chunk-size" | "chunk-data" | "chunk-crlf" | "trailers" | "until-close" = "head";
  private remaining = 0;
  private readonly parts: Buffer[] = [];
  /** The server said it closes the connection (or HTTP/1.0 without keep-alive). */
  closeAfter = false;
  received = false;

  constructor(private readonly method: string) {}

  /** Feeds bytes; returns the response when it is complete. */
  push(chunk: Buffer): LeanResponse | undefined {
    this.received = true;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      switch (this.state) {
        case "head": {
          const end = this.pending.indexOf(HEAD_END);
          if (end < 0) {
            if (this.pending.length > MAX_HEAD_BYTES) throw new ProtocolError("response head over 64 KiB");
            return undefined;
          }
          this.parseHead(this.pending.toString("latin1", 0, end));
          this.pending = this.pending.subarray(end + 4);
          if (this.status >= 100 && this.status < 200) {
            this.headers = {};
            continue; // an interim response: the final one follows
          }
          const length = this.headers["content-length"];
          const chunked = /(^|,)\s*chunked\s*$/i.test(this.headers["transfer-encoding"] ?? "");
          if (this.method === "HEAD" || this.status === 204 || this.status === 304) return this.done();
          if (chunked) this.state = "chunk-size";
          else if (length !== undefined) {
            if (!/^\d+$/.test(length.trim())) throw new ProtocolError(`bad content-length ${length}`);
            this.remaining = Number(length);
            this.state = "length";
          } else {
            this.state = "until-close";
            this.closeAfter = true;
          }
          continue;
        }
        case "length": {
          if (this.pending.length < this.remaining) {
            this.remaining -= this.pending.length;
            this.take(this.pending.length);
            return undefined;
          }
          this.take(this.remaining);
          return this.done();
        }
        case "chunk-size": {
          const end = this.pending.indexOf(CRLF);
          if (end < 0) return undefined;
          const size = Number.parseInt(this.pending.toString("latin1", 0, end).split(";")[0].trim(), 16);
          if (!Number.isFinite(size) || size < 0) throw new ProtocolError("bad chunk size");
          this.pending = this.pending.subarray(end + 2);
          this.remaining = size;
          this.state = size === 0 ? "trailers" : "chunk-data";
          continue;
        }
        case "chunk-data": {
          const n = Math.min(this.remaining, this.pending.length);
          this.take(n);
          this.remaining -= n;
          if (this.remaining > 0) return undefined;
          this.state = "chunk-crlf";
          continue;
        }
        case "chunk-crlf": {
          if (this.pending.length < 2) return undefined;
          this.pending = this.pending.subarray(2);
          this.state = "chunk-size";
          continue;
        }
        case "trailers": {
          // Trailer fields (rare) end with an empty line; none: the empty line comes at once.
          const end = this.pending.indexOf(CRLF);
          if (end < 0) return undefined;
          this.pending = this.pending.subarray(end + 2);
          if (end === 0) return this.done();
          continue;
        }
        case "until-close":
          this.take(this.pending.length);
          return undefined;
      }
    }
  }

  /** The connection ended: completes a response framed by its end, fails any other. */
  end(): LeanResponse {
    if (this.state === "until-close") return this.done();
    throw this.received
      ? new ProtocolError("connection closed before the end of the response")
      : new ClosedBeforeResponse("connection closed before any response");
  }

  private take(n: number) {
    if (n > 0) this.parts.push(this.pending.subarray(0, n));
    this.pending = this.pending.subarray(n);
  }

  private done(): LeanResponse {
    if (this.pending.length > 0) this.closeAfter = true; // bytes past the response: do not reuse the connection
    return { status: this.status, headers: this.headers, body: Buffer.concat(this.parts) };
  }

  private parseHead(head: string) {
    const lines = head.split("\r\n");
    const match = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]);
    if (!match) throw new ProtocolError(`bad status line ${JSON.stringify(lines[0].slice(0, 100))}`);
    this.status = Number(match[2]);
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(":");
      if (colon <= 0) continue;
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    this.headers = headers;
    const connection = (headers.connection ?? "").toLowerCase();
    if (connection.includes("close") || (match[1] === "0" && !connection.includes("keep-alive"))) {
      this.closeAfter = true;
    }
  }
}

/** A pool of keep-alive connections to one host and port. */
export function createLeanHttpPool(options: { host: string; port: number; maxIdle?: number }): LeanHttpPool {
  const { host, port } = options;
  const maxIdle = options.maxIdle ?? 256;
  const hostHeader = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const idle: net.Socket[] = [];

  const forget = (socket: net.Socket) => {
    const at = idle.indexOf(socket);
    if (at >= 0) idle.splice(at, 1);
  };

  function connect(): net.Socket {
    const socket = net.connect({ host, port, noDelay: true });
    // An idle connection the server closes leaves the pool; errors are reported to the request in flight, if any.
    socket.on("close", () => forget(socket));
    socket.on("end", () => forget(socket));
    socket.on("error", () => forget(socket));
    return socket;
  }

  function release(socket: net.Socket) {
    if (socket.destroyed || socket.readableEnded || idle.length >= maxIdle) {
      socket.destroy();
      return;
    }
    // Idle connections do not keep the process alive.
    socket.unref();
    idle.push(socket);
  }

  function serialize(request: LeanRequest): string {
    let head = `${request.method} ${request.path} HTTP/1.1\r\nhost: ${hostHeader}\r\nconnection: keep-alive\r\n`;
    for (const name in request.headers) head += `${name}: ${request.headers[name]}\r\n`;
    if (request.body !== undefined) head += `content-length: ${Buffer.byteLength(request.body)}\r\n`;
    return `${head}\r\n${request.body ?? ""}`;
  }

  function exchange(request: LeanRequest, wire: string, socket: net.Socket): Promise<LeanResponse> {
    return new Promise<LeanResponse>((resolve, reject) => {
      const parser = new ResponseParser(request.method);
      let settled = false;
      const finish = (error: unknown, response?: LeanResponse) => {
        if (settled) return;
        settled = true;
        socket.off("data", onData);
        socket.off("end", onEnd);
        socket.off("close", onEnd);
        socket.off("error", onError);
        request.signal.removeEventListener("abort", onAbort);
        if (error !== undefined) {
          socket.destroy();
          reject(error);
          return;
        }
        if (parser.closeAfter) socket.destroy();
        else release(socket);
        resolve(response!);
      };
      const onData = (chunk: Buffer) => {
        let response: LeanResponse | undefined;
        try {
          response = parser.push(chunk);
        } catch (error) {
          finish(error);
          return;
        }
        if (response) finish(undefined, response);
      };
      const onEnd = () => {
        try {
          finish(undefined, parser.end());
        } catch (error) {
          finish(error);
        }
      };
      // A reset before any byte of the response is the same race as a close (see request below).
      const onError = (error: Error & { code?: string }) =>
        finish(
          !parser.received && (error.code === "ECONNRESET" || error.code === "EPIPE")
            ? new ClosedBeforeResponse(`connection reset before any response (${error.code})`)
            : error,
        );
      const onAbort = () => finish(request.signal.reason ?? new Error("aborted"));
      if (request.signal.aborted) return onAbort();
      request.signal.addEventListener("abort", onAbort, { once: true });
      socket.on("data", onData);
      socket.once("end", onEnd);
      socket.once("close", onEnd);
      socket.once("error", onError);
      socket.ref();
      socket.write(wire);
    });
  }

  return {
    async request(request) {
      const wire = serialize(request);
      let socket = idle.pop();
      while (socket?.destroyed) socket = idle.pop();
      if (!socket) return exchange(request, wire, connect());
      try {
        return await exchange(request, wire, socket);
      } catch (error) {
        // A reused connection the server had closed as idle while the request went out: nothing was answered,
        // so the request goes once more on a new connection (node:http would report ECONNRESET to the caller).
        if (!(error instanceof ClosedBeforeResponse) || request.signal.aborted) throw error;
        return exchange(request, wire, connect());
      }
    },
    close() {
      for (const socket of idle.splice(0)) socket.destroy();
    },
  };
}
