/**
 * Serves connect's universal handlers (gRPC, gRPC-Web, Connect) straight from node:http2 streams, without the
 * http2 compatibility API (Http2ServerRequest/Response) that connectNodeAdapter needs. Same wire behaviour:
 * response headers after the first response chunk (or the end of the body), trailers when the handler has any.
 * It saves, per call, the compat objects and their listeners, a Readable async iterator over the request, a URL
 * parse, and an AbortError (DOMException) for every stream that closes after its response was sent. Unary gRPC
 * calls can skip connect's handler pipeline too (unary-fast-path.ts).
 */
import http2 from "node:http2";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import type { UnaryCall, UnaryFastPath } from "./unary-fast-path.js";

const {
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_CANCEL,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_INADEQUATE_SECURITY,
  NGHTTP2_HTTP_1_1_REQUIRED,
  NGHTTP2_STREAM_CLOSED,
  NGHTTP2_NO_ERROR,
  NGHTTP2_INTERNAL_ERROR,
} = http2.constants;

/** The error a reset stream means for the handler, as connect-node maps it; undefined for a clean close. */
function errorFromResetCode(rstCode: number): ConnectError | undefined {
  if (rstCode === NGHTTP2_NO_ERROR || rstCode === NGHTTP2_STREAM_CLOSED) return undefined;
  const message = `http/2 stream closed with error code 0x${rstCode.toString(16)}`;
  switch (rstCode) {
    case NGHTTP2_REFUSED_STREAM:
      return new ConnectError(message, Code.Unavailable);
    case NGHTTP2_CANCEL:
      return new ConnectError(message, Code.Canceled);
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return new ConnectError(message, Code.ResourceExhausted);
    case NGHTTP2_INADEQUATE_SECURITY:
    case NGHTTP2_HTTP_1_1_REQUIRED:
      return new ConnectError(message, Code.PermissionDenied);
    default:
      return new ConnectError(message, Code.Internal);
  }
}

function webHeaders(nodeHeaders: IncomingHttpHeaders): Headers {
  const header = new Headers();
  for (const key in nodeHeaders) {
    if (key.charCodeAt(0) === 58 /* ":" */) continue;
    const value = nodeHeaders[key];
    if (value === undefined) continue;
    if (typeof value === "string") header.append(key, value);
    else for (const v of value) header.append(key, v);
  }
  return header;
}

function nodeHeaders(header: Headers | undefined, into: OutgoingHttpHeaders): OutgoingHttpHeaders {
  header?.forEach((value, key) => {
    into[key] = value;
  });
  return into;
}

/** The request body as an async iterable; pauses the stream (HTTP/2 flow control) while chunks wait unread. */
function requestBody(stream: http2.ServerHttp2Stream): AsyncIterable<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stream.on("data", (chunk: Uint8Array) => {
    chunks.push(chunk);
    if (chunks.length >= 8) stream.pause();
    notify();
  });
  stream.once("end", () => {
    ended = true;
    notify();
  });
  stream.once("close", () => {
    if (!ended)
      failure ??= errorFromResetCode(stream.rstCode) ?? new ConnectError("request stream closed", Code.Aborted);
    notify();
  });
  stream.once("error", (error) => {
    failure ??= error;
    notify();
  });
  return {
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<Uint8Array>> {
        for (;;) {
          const chunk = chunks.shift();
          if (chunk !== undefined) {
            if (chunks.length === 0 && stream.isPaused()) stream.resume();
            return { done: false, value: chunk };
          }
          if (failure !== undefined) throw failure;
          if (ended) return { done: true, value: undefined };
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      },
    }),
  };
}

/** Writes a chunk; a promise only when the stream asks to wait for "drain". */
function write(stream: http2.ServerHttp2Stream, chunk: Uint8Array): Promise<void> | undefined {
  if (stream.write(chunk)) return undefined;
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      stream.off("drain", done);
      stream.off("close", closed);
      if (error) reject(error);
      else resolve();
    };
    const closed = () => done(new ConnectError("stream closed while writing", Code.Aborted));
    stream.once("drain", done);
    stream.once("close", closed);
  });
}

/**
 * After the whole response went out: a request the handler left unread (one over the size limit, refused from its
 * length prefix) is cut with RST_STREAM(NO_ERROR), as RFC 9113 8.1 allows, so the client stops sending it rather
 * than filling flow-control buffers with bytes nobody reads.
 */
function stopUnreadRequest(stream: http2.ServerHttp2Stream): void {
  if (stream.readableEnded || stream.destroyed) return;
  setImmediate(() => {
    if (!stream.destroyed && !stream.readableEnded) stream.close(NGHTTP2_NO_ERROR);
  });
}

export interface Http2StreamHandlerOptions {
  handlers: readonly UniversalHandler[];
  /** Applied to the trailers before they are sent (the runtime re-encodes grpc-message). */
  trailers?: (trailers: OutgoingHttpHeaders) => OutgoingHttpHeaders;
  /** Unary gRPC calls it accepts skip connect's handler pipeline (unary-fast-path.ts); the rest go to `handlers`. */
  unary?: UnaryFastPath;
}

/** One call's link to its stream: the request signal, and whether the response went out. */
interface StreamCall {
  readonly abort: AbortController;
  finished: boolean;
}

/**
 * Reads a unary request's one message. Undefined when the body is anything else (a compressed or oversized
 * message, several messages, an incomplete one, a reset stream): connect must answer it, from `read` chunks on.
 */
async function readSingleMessage(
  it: AsyncIterator<Uint8Array>,
  readMaxBytes: number,
  read: Uint8Array[],
): Promise<Uint8Array | undefined> {
  let total = 0;
  let length = -1;
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await it.next();
    } catch {
      return undefined; // the iterator throws the same failure again for connect
    }
    if (next.done) break;
    read.push(next.value);
    total += next.value.byteLength;
    if (length < 0 && total >= 5) {
      const head = read[0].byteLength >= 5 ? read[0] : Buffer.concat(read);
      // Flags 0: neither compressed nor anything else this path would have to interpret.
      if (head[0] !== 0) return undefined;
      length = ((head[1] << 24) | (head[2] << 16) | (head[3] << 8) | head[4]) >>> 0;
      if (length > readMaxBytes) return undefined;
    }
    if (length >= 0 && total > 5 + length) return undefined;
  }
  if (length < 0 || total !== 5 + length) return undefined;
  // A copy, as connect's envelope decoder makes: decoded bytes fields must not pin the stream's chunks.
  const message = new Uint8Array(length);
  let at = -5;
  for (const chunk of read) {
    if (at >= 0) message.set(chunk, at);
    else if (chunk.byteLength + at > 0) message.set(chunk.subarray(-at), 0);
    at += chunk.byteLength;
  }
  return message;
}

/** A body that yields the chunks already read, then the rest of the stream. */
function replayed(read: Uint8Array[], rest: AsyncIterator<Uint8Array>): AsyncIterable<Uint8Array> {
  let index = 0;
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => (index < read.length ? Promise.resolve({ done: false, value: read[index++] }) : rest.next()),
    }),
  };
}

/** Sends the trailers when the stream asks for them, then stops reading what the client may still send. */
function sendTrailersWhenWanted(
  stream: http2.ServerHttp2Stream,
  trailer: Headers,
  mapTrailers: (trailers: OutgoingHttpHeaders) => OutgoingHttpHeaders,
): void {
  stream.once("wantTrailers", () => {
    stream.sendTrailers(mapTrailers(nodeHeaders(trailer, {})));
    stopUnreadRequest(stream);
  });
}

/** Serves a call through connect's universal handler. */
async function serveUniversal(
  stream: http2.ServerHttp2Stream,
  handler: UniversalHandler,
  request: UniversalServerRequest,
  call: StreamCall,
  mapTrailers: (trailers: OutgoingHttpHeaders) => OutgoingHttpHeaders,
): Promise<void> {
  const response = await handler(request);
  const it = response.body?.[Symbol.asyncIterator]();
  let writing = false;
  try {
    let chunk = it ? await it.next() : undefined;
    if (stream.destroyed) return;
    const trailer = response.trailer;
    const empty = chunk === undefined || chunk.done === true;
    if (empty && trailer === undefined) call.finished = true;
    // Headers after the first chunk, so that the implementation can still set response headers.
    stream.respond(nodeHeaders(response.header, { ":status": response.status }), {
      waitForTrailers: trailer !== undefined,
      endStream: empty && trailer === undefined,
    });
    if (trailer !== undefined) sendTrailersWhenWanted(stream, trailer, mapTrailers);
    while (chunk !== undefined && chunk.done !== true) {
      writing = true;
      const pending = write(stream, chunk.value);
      if (pending) await pending;
      writing = false;
      chunk = await it!.next();
    }
    call.finished = true;
    if (!stream.writableEnded) stream.end();
    if (trailer === undefined) stopUnreadRequest(stream);
  } catch (error) {
    // Write errors go back to the handler, as connect-node reports them.
    if (writing) it?.throw?.(error).catch(() => {});
    if (stream.destroyed) return; // the client is gone: nothing to report
    stream.close(NGHTTP2_INTERNAL_ERROR);
    throw error;
  } finally {
    it?.return?.().catch(() => {});
  }
}

/**
 * Serves a unary gRPC call on the fast path, with the frames connect's handler sends: response headers, the one
 * message (none on error), then trailers. A body it cannot take goes to connect with the chunks already read.
 */
async function serveUnary(
  stream: http2.ServerHttp2Stream,
  unary: UnaryCall,
  readMaxBytes: number,
  request: UniversalServerRequest & { body: AsyncIterable<Uint8Array> },
  call: StreamCall,
  toConnect: (body: AsyncIterable<Uint8Array>) => Promise<void>,
  mapTrailers: (trailers: OutgoingHttpHeaders) => OutgoingHttpHeaders,
): Promise<void> {
  const it = request.body[Symbol.asyncIterator]();
  const read: Uint8Array[] = [];
  const message = await readSingleMessage(it, readMaxBytes, read);
  if (message === undefined) return toConnect(replayed(read, it));
  const result = await unary.run(message, request.signal, request.url);
  try {
    if (stream.destroyed) return; // the client is gone: nothing to send
    stream.respond(nodeHeaders(result.header, { ":status": 200 }), { waitForTrailers: true });
    sendTrailersWhenWanted(stream, result.trailer, mapTrailers);
    if (result.body !== undefined) stream.write(result.body);
    call.finished = true;
    stream.end();
  } catch (error) {
    // As on connect's path: a stream that could not be answered is reset, and the error logged.
    if (stream.destroyed) return;
    stream.close(NGHTTP2_INTERNAL_ERROR);
    throw error;
  } finally {
    // The call's signal and deadline timer end whatever happened to the response.
    result.end();
  }
}

/** A listener for an Http2Server's "stream" event that routes to connect's universal handlers by path. */
export function createHttp2StreamHandler(options: Http2StreamHandlerOptions) {
  const paths = new Map(options.handlers.map((h) => [h.requestPath, h]));
  const mapTrailers = options.trailers ?? ((t: OutgoingHttpHeaders) => t);
  const unary = options.unary;
  return function onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const path = headers[":path"] ?? "";
    const query = path.indexOf("?");
    const requestPath = query < 0 ? path : path.slice(0, query);
    const handler = paths.get(requestPath);
    if (!handler) {
      stream.respond({ ":status": 404 }, { endStream: true });
      return;
    }
    const call: StreamCall = { abort: new AbortController(), finished: false };
    stream.once("close", () => {
      // Once the response went out nobody listens any more (connect aborts the call's own signal itself).
      if (!call.finished) call.abort.abort(errorFromResetCode(stream.rstCode));
    });
    const request = {
      httpVersion: "2.0",
      method: headers[":method"] ?? "",
      url: `http://${headers[":authority"] ?? headers.host ?? "localhost"}${path}`,
      header: webHeaders(headers),
      body: requestBody(stream),
      signal: call.abort.signal,
    } satisfies UniversalServerRequest;
    const toConnect = (body: AsyncIterable<Uint8Array>) =>
      serveUniversal(stream, handler, { ...request, body }, call, mapTrailers);
    const fast = unary?.accept(requestPath, request.method, request.header);
    const served = fast
      ? serveUnary(stream, fast, unary!.readMaxBytes, request, call, toConnect, mapTrailers)
      : toConnect(request.body);
    served.catch((error) => {
      if (ConnectError.from(error).code === Code.Aborted) return;
      console.error(`handler for rpc ${handler.method.name} of ${handler.service.typeName} failed`, error);
    });
  };
}
