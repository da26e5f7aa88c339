/** Rows of documented bad inputs: each answered INVALID_ARGUMENT naming the field, one check per row. */
import type { Check, CheckContext } from "./check.js";
import { expectInvalidArgument } from "./expect.js";

/** What is wrong (in the proto's words), the field path the answer must name first, and the request. */
export type BadInput<R> = readonly [what: string, field: string, request: R];

export function invalidArgumentChecks<R>(
  rpc: string,
  rows: readonly BadInput<R>[],
  call: (ctx: CheckContext, request: R) => Promise<unknown>,
): Check[] {
  return rows.map(([what, field, request]) => ({
    name: `${rpc}: INVALID_ARGUMENT ${field} (${what})`,
    run: (ctx) => expectInvalidArgument(call(ctx, request), field),
  }));
}
