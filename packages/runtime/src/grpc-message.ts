/**
 * The gRPC spec percent-encodes `grpc-message` only where it must: bytes outside 0x20–0x7E, and "%" itself.
 * connect-node uses encodeURIComponent, which also encodes ":", "/", "," and the like; grpc-js clients decode with
 * decodeURI, which leaves those escaped ("query%3A must not be empty"). Re-encoding to the spec's minimum reads
 * right in every client (grpc-js, grpcio, grpc-go, connect).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

const MESSAGE = "grpc-message";

export function encodeGrpcMessage(message: string): string {
  let encoded = "";
  for (const byte of Buffer.from(message, "utf8")) {
    encoded +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}

/** The trailers with `grpc-message` re-encoded to the spec's minimum; other fields untouched. */
export function withSpecGrpcMessage<T extends OutgoingHttpHeaders | IncomingHttpHeaders>(trailers: T): T {
  const value = trailers[MESSAGE];
  if (typeof value !== "string") return trailers;
  let message: string;
  try {
    message = decodeURIComponent(value);
  } catch {
    return trailers; // not connect's encoding: leave it as it is
  }
  return { ...trailers, [MESSAGE]: encodeGrpcMessage(message) };
}
