import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { GenerateRequestSchema } from "@ragtune/contracts/generator";
import { validateGenerateRequest } from "./validation.js";

const request = (adapter: string) =>
  create(GenerateRequestSchema, { question: "q", contexts: [{ text: "c" }], model: { adapter } });

describe("validateGenerateRequest: adapter ids", () => {
  it("refuses an adapter id that would name a parent folder, a path or a wildcard, at model.adapter", () => {
    for (const adapter of ["..", "../x", "a/b", "a\u0000b", "a.*", ".hidden", "x".repeat(129)]) {
      assert.throws(
        () => validateGenerateRequest(request(adapter)),
        (error: unknown) =>
          error instanceof ConnectError &&
          error.code === Code.InvalidArgument &&
          error.rawMessage.startsWith("model.adapter: must be 1..128 characters"),
        JSON.stringify(adapter),
      );
    }
  });

  it("takes the trainer's adapter ids and none", () => {
    for (const adapter of ["", "reader-200", "exp-1.bioasq.m0-m.lora-200-h0", "qa-lora"]) {
      assert.equal(validateGenerateRequest(request(adapter)).adapter, adapter);
    }
  });
});
