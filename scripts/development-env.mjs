// The environment in which tests and benchmarks run: NODE_OPTIONS gains the "development" export condition, so that
// every workspace package resolves to its TypeScript src/ (run through tsx) rather than its emitted dist/, in the
// process and in every process it spawns. Production code runs dist/ and never sets it.
export function developmentEnv(env = process.env) {
  const options = env.NODE_OPTIONS ?? "";
  if (/(^|\s)(--conditions|-C)[= ]development(\s|$)/.test(options)) return env;
  return { ...env, NODE_OPTIONS: `${options} --conditions=development`.trim() };
}
