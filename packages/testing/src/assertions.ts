import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";

/** For `assert.rejects`: the error is a ConnectError with this code (and a message matching `pattern`). */
export function isConnectError(code: Code, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, code, `${Code[error.code]}: ${error.message}`);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}
