/** Assertions of the kit: each failure is an Error whose message is the reason printed beside the check. */
import { Code, ConnectError } from "@connectrpc/connect";
import { NotOffered } from "./check.js";

export class CheckFailed extends Error {}

export function ensure(condition: unknown, reason: string): asserts condition {
  if (!condition) throw new CheckFailed(reason);
}

/** NOT_FOUND, as grpcurl and other languages print codes. */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Runs a call that must fail with `code`; returns the error. A success or another code fails the check. */
export async function expectCode(call: Promise<unknown>, code: Code): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    const e = ConnectError.from(error);
    if (e.code === code) return e;
    throw new CheckFailed(`expected ${codeName(code)}, got ${codeName(e.code)}: ${e.rawMessage}`);
  }
  throw new CheckFailed(`expected ${codeName(code)}, the call succeeded`);
}

/**
 * INVALID_ARGUMENT whose message starts with the field path (`items[0].question: must not be empty`), the
 * convention every ragtune contract documents.
 */
export async function expectInvalidArgument(call: Promise<unknown>, field: string): Promise<void> {
  const e = await expectCode(call, Code.InvalidArgument);
  const message = e.rawMessage;
  const named = message.startsWith(field) && /^($|[:\s])/.test(message.slice(field.length));
  ensure(named, `INVALID_ARGUMENT does not name the field "${field}" first: "${message}"`);
}

/**
 * Runs a call of an optional feature: UNIMPLEMENTED (or FAILED_PRECONDITION where `allowPrecondition`) marks
 * the check as not offered rather than failed.
 */
export async function offered<T>(call: Promise<T>, allowPrecondition = false): Promise<T> {
  try {
    return await call;
  } catch (error) {
    const e = ConnectError.from(error);
    if (e.code === Code.Unimplemented || (allowPrecondition && e.code === Code.FailedPrecondition)) {
      throw new NotOffered(`${codeName(e.code)}: ${e.rawMessage}`);
    }
    throw error;
  }
}

export function isSortedDescending(values: readonly number[]): boolean {
  return values.every((v, i) => i === 0 || values[i - 1] >= v);
}
