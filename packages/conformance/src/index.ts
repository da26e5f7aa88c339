export type { Check, CheckContext, CheckResult, Contract, Outcome } from "./check.js";
export { NotApplicable, NotOffered } from "./check.js";
export { ensure, expectCode, expectInvalidArgument } from "./expect.js";
export {
  CONTRACTS,
  type ConformanceOptions,
  type ConformanceReport,
  createCheckContext,
  formatResult,
  runConformance,
} from "./run-conformance.js";
