/**
 * gRPC calls with bytes no generated client would send: raw HTTP/2 requests whose body is whatever the case
 * writes (undecodable protobuf, a length prefix that lies, many messages to a unary method, hostile JSON), read
 * back as the grpc-status / Connect error the server answered.
 */
import http2 from "node:http2";

export interface RawAnswer {
  httpStatus: number;
  /** grpc-status from the headers (trailers-only) or the trailers; undefined when the server sent none. */
  grpcStatus: number | undefined;
  grpcMessage: string;
  /** Response body (Connect/JSON error bodies). */
  body: string;
  /** The server reset the stream (RST_STREAM) instead of answering. */
  resetCode?: number;
}

/** One gRPC length-prefixed message: flags byte, 4-byte big-endian length, payload. */
export function envelope(payload: Uint8Array, declaredLength = payload.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(declaredLength >>> 0, 1);
  return Buffer.concat([head, payload]);
}

export interface RawCallOptions {
  contentType?: string;
  headers?: http2.OutgoingHttpHeaders;
  timeoutMs?: number;
}

/**
 * POSTs `chunks` to `path` (/package.Service/Method) on one fresh HTTP/2 connection, writing with backpressure
 * and stopping early once the server has answered (a server may answer before it read everything).
 */
export async function rawCall(
  baseUrl: string,
  path: string,
  chunks: Iterable<Uint8Array>,
  options: RawCallOptions = {},
): Promise<RawAnswer> {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  try {
    return await new Promise<RawAnswer>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${path}: no answer within ${options.timeoutMs ?? 20_000} ms`)),
        options.timeoutMs ?? 20_000,
      );
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": options.contentType ?? "application/grpc",
        te: "trailers",
        ...options.headers,
      });
      const answer: RawAnswer = { httpStatus: 0, grpcStatus: undefined, grpcMessage: "", body: "" };
      let answered = false;
      const readStatus = (headers: http2.IncomingHttpHeaders) => {
        if (headers["grpc-status"] !== undefined) answer.grpcStatus = Number(headers["grpc-status"]);
        if (headers["grpc-message"] !== undefined) {
          answer.grpcMessage = decodeURIComponent(String(headers["grpc-message"]));
        }
      };
      stream.on("response", (headers) => {
        answered = true;
        answer.httpStatus = Number(headers[":status"]);
        readStatus(headers);
      });
      stream.on("trailers", readStatus);
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => {
        if (answer.body.length < 64_000) answer.body += text;
      });
      stream.on("error", () => {});
      stream.on("close", () => {
        clearTimeout(timer);
        if (!answered || stream.rstCode) answer.resetCode = stream.rstCode;
        resolve(answer);
      });
      void (async () => {
        for (const chunk of chunks) {
          if (answered || stream.destroyed) return;
          if (!stream.write(chunk)) {
            await new Promise<void>((drained) => {
              const done = () => {
                stream.off("drain", done);
                stream.off("close", done);
                stream.off("response", done);
                drained();
              };
              stream.on("drain", done);
              stream.on("close", done);
              stream.on("response", done);
            });
          }
        }
        if (!stream.destroyed) stream.end();
      })();
    });
  } finally {
    session.close();
    session.destroy();
  }
}
