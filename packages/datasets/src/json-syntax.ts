/**
 * Why text is not JSON, without the text: V8's message quotes what it choked on, and a file a caller named must
 * not be echoed back to them.
 */
export function jsonSyntaxProblem(error: unknown): string {
  const at = /position (\d+)/.exec((error as Error)?.message ?? "");
  return `not JSON${at ? ` (at byte ${at[1]})` : ""}`;
}
