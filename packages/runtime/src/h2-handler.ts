/**
 * Serves connect's universal handlers (gRPC, gRPC-Web, Connect) straight from node:http2 streams, without the
 * http2 compatibility API (Http2ServerRequest/Response) that connectNodeAdapter needs. Same wire behaviour:
 * response headers after the first response chunk (or the end of the body), trailers when the handler has any.
 * It saves, per call, the compat objects and their listeners, a Readable async iterator over the request, a URL
 * parse, and an AbortError (DOMException) for every stream that closes after its response was sent.
 */
import http2 from "node:http2";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";

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
}

/** A listener for an Http2Server's "stream" event that routes to connect's universal handlers by path. */
export function createHttp2StreamHandler(options: Http2StreamHandlerOptions) {
  const paths = new Map(options.handlers.map((h) => [h.requestPath, h]));
  const mapTrailers = options.trailers ?? ((t: OutgoingHttpHeaders) => t);
  return function onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const path = headers[":path"] ?? "";
    const query = path.indexOf("?");
    const handler = paths.get(query < 0 ? path : path.slice(0, query));
    if (!handler) {
      stream.respond({ ":status": 404 }, { endStream: true });
      return;
    }
    let finished = false;
    const abort = new AbortController();
    stream.once("close", () => {
      // Once the response went out nobody listens any more (connect aborts the call's own signal itself).
      if (!finished) abort.abort(errorFromResetCode(stream.rstCode));
    });
    const request: UniversalServerRequest = {
      httpVersion: "2.0",
      method: headers[":method"] ?? "",
      url: `http://${headers[":authority"] ?? headers.host ?? "localhost"}${path}`,
      header: webHeaders(headers),
      body: requestBody(stream),
      signal: abort.signal,
    };
    handler(request)
      .then(async (response) => {
        const it = response.body?.[Symbol.asyncIterator]();
        let writing = false;
        try {
          let chunk = it ? await it.next() : undefined;
          if (stream.destroyed) return;
          const trailer = response.trailer;
          const empty = chunk === undefined || chunk.done === true;
          if (empty && trailer === undefined) finished = true;
          // Headers after the first chunk, so that the implementation can still set response headers.
          stream.respond(nodeHeaders(response.header, { ":status": response.status }), {
            waitForTrailers: trailer !== undefined,
            endStream: empty && trailer === undefined,
          });
          if (trailer !== undefined) {
            stream.once("wantTrailers", () => {
              stream.sendTrailers(mapTrailers(nodeHeaders(trailer, {})));
              stopUnreadRequest(stream);
            });
          }
          while (chunk !== undefined && chunk.done !== true) {
            writing = true;
            const pending = write(stream, chunk.value);
            if (pending) await pending;
            writing = false;
            chunk = await it!.next();
          }
          finished = true;
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
      })
      .catch((error) => {
        if (ConnectError.from(error).code === Code.Aborted) return;
        console.error(`handler for rpc ${handler.method.name} of ${handler.service.typeName} failed`, error);
      });
  };
}
