/**
 * One concurrency limit per backend and kind of call for a whole run, from the spec: its backend_concurrency
 * entries (else the defaults), fixed or adaptive as adaptive_concurrency says.
 */
import type { ExperimentSpec } from "@ragtune/contracts/gateway";
import { adaptiveLimit, type ConcurrencyLimit, fixedLimit } from "./concurrency-limit.js";
import { backendConcurrency } from "./experiment-spec.js";

/** The range maximum of BackendConcurrency's fields. */
const MAX_IN_FLIGHT = { generate: 256, judge: 64 } as const;

export type CallKind = keyof typeof MAX_IN_FLIGHT;

export class BackendLimits {
  private readonly limits = new Map<string, ConcurrencyLimit>();

  constructor(
    readonly spec: ExperimentSpec,
    private readonly now: () => number = Date.now,
  ) {}

  for(kind: CallKind, backend: string): ConcurrencyLimit {
    const key = `${kind}:${backend}`;
    let limit = this.limits.get(key);
    if (!limit) {
      const initial = backendConcurrency(this.spec, backend)[kind];
      limit = this.spec.adaptiveConcurrency
        ? adaptiveLimit({ initial, max: MAX_IN_FLIGHT[kind], now: this.now })
        : fixedLimit(initial);
      this.limits.set(key, limit);
    }
    return limit;
  }
}
