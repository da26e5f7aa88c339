/**
 * A contract's checks are rows of a table: a name that says what the contract promises, and a function that
 * throws (with the reason) when the implementation does not keep the promise. Adding a check is adding a row.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Client, Transport } from "@connectrpc/connect";

export interface CheckContext {
  /** Base URL of the implementation under test. */
  url: string;
  transport: Transport;
  client<T extends DescService>(service: T): Client<T>;
  /** NATS server the implementation publishes to; checks of events are skipped without it. */
  natsUrl?: string;
  /** A name no earlier run used, for the resources a check creates (collections, jobs). */
  unique(prefix: string): string;
}

export interface Check {
  /** What the contract promises, e.g. "Search: results by descending score". */
  name: string;
  run(ctx: CheckContext): Promise<unknown>;
}

/**
 * Thrown by a check whose feature the implementation declares it does not offer (UNIMPLEMENTED, or
 * FAILED_PRECONDITION where the contract allows it): reported as skipped, not failed.
 */
export class NotOffered extends Error {}

/** Thrown by a check that cannot run in this setting (e.g. no NATS URL given). */
export class NotApplicable extends Error {}

export type Outcome = "pass" | "fail" | "skip";

export interface CheckResult {
  name: string;
  outcome: Outcome;
  /** Why it failed or was skipped; empty on pass. */
  reason: string;
  durationMs: number;
}

export interface Contract {
  /** CLI name: judge, retriever, generator, trainer. */
  name: string;
  service: DescService;
  /**
   * A cheap, read-only call. UNIMPLEMENTED from it means the server at the address serves another contract.
   */
  probe(ctx: CheckContext): Promise<unknown>;
  checks: readonly Check[];
}
