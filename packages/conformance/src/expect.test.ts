import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { NotOffered } from "./check.js";
import { CheckFailed, expectInvalidArgument, isSortedDescending, offered } from "./expect.js";

const fail = (message: string, code = Code.InvalidArgument) => Promise.reject(new ConnectError(message, code));

describe("expectInvalidArgument", () => {
  it("accepts the field path first, followed by a colon, a space or nothing", async () => {
    await expectInvalidArgument(fail("items[0].question: must not be empty"), "items[0].question");
    await expectInvalidArgument(fail("query must not be empty"), "query");
    await expectInvalidArgument(fail("judge"), "judge");
  });
  it("refuses a message naming a longer field, another field, or none", async () => {
    await assert.rejects(expectInvalidArgument(fail("judge.mode: required"), "judge"), CheckFailed);
    await assert.rejects(expectInvalidArgument(fail("bad request: judge.mode"), "judge.mode"), CheckFailed);
    await assert.rejects(expectInvalidArgument(fail("items: at least 1"), "items[0]"), CheckFailed);
  });
  it("refuses another code and a success", async () => {
    await assert.rejects(
      expectInvalidArgument(fail("query: x", Code.NotFound), "query"),
      /expected INVALID_ARGUMENT, got NOT_FOUND/,
    );
    await assert.rejects(expectInvalidArgument(Promise.resolve({}), "query"), /the call succeeded/);
  });
});

describe("offered", () => {
  it("turns UNIMPLEMENTED, and FAILED_PRECONDITION where allowed, into NotOffered", async () => {
    await assert.rejects(offered(fail("no", Code.Unimplemented)), NotOffered);
    await assert.rejects(offered(fail("no model", Code.FailedPrecondition), true), NotOffered);
    await assert.rejects(offered(fail("no model", Code.FailedPrecondition)), ConnectError);
    await assert.rejects(offered(fail("bad", Code.InvalidArgument), true), ConnectError);
  });
});

describe("isSortedDescending", () => {
  it("allows ties and refuses any rise", () => {
    assert.ok(isSortedDescending([3, 2, 2, 1]));
    assert.ok(isSortedDescending([]));
    assert.ok(!isSortedDescending([3, 1, 2]));
  });
});
