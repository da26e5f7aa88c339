import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeGrpcMessage, withSpecGrpcMessage } from "./grpc-message.js";

describe("grpc-message encoding", () => {
  it("escapes only bytes outside 0x20-0x7E and %", () => {
    assert.equal(encodeGrpcMessage("top_k: must be in 1..1000, got 0"), "top_k: must be in 1..1000, got 0");
    assert.equal(encodeGrpcMessage("100% sure\nnext"), "100%25 sure%0Anext");
    assert.equal(encodeGrpcMessage("größe"), "gr%C3%B6%C3%9Fe");
  });

  it("re-encodes connect's encodeURIComponent output so any decoder reads the same text", () => {
    const message = 'query: "ä" 50% / done';
    const trailers = withSpecGrpcMessage({ "grpc-status": "3", "grpc-message": encodeURIComponent(message) });
    assert.equal(trailers["grpc-status"], "3");
    assert.equal(decodeURIComponent(trailers["grpc-message"] as string), message);
    assert.equal(decodeURI(trailers["grpc-message"] as string), message);
  });

  it("leaves trailers without a message, or with one it cannot decode, as they are", () => {
    const ok = { "grpc-status": "0" };
    assert.equal(withSpecGrpcMessage(ok), ok);
    const odd = { "grpc-message": "50%" };
    assert.equal(withSpecGrpcMessage(odd), odd);
  });
});
