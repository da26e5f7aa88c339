/**
 * A timing model of one hosted model's API (the judge's, or the hosted reader's) under its rate limits, kept in
 * step with the wall clock sped up by a time factor: every request takes the stated call time once it starts, and
 * starts are spaced so that neither the requests-per-minute nor the tokens-per-minute limit is passed (a request
 * counts its prompt + max_tokens × n against the token limit). A real API answers a request over the limit with
 * 429 and the client sends it again; here it waits for its turn instead, which is never slower.
 */
import { FIGURES } from "./published-figures.js";

export interface HostedCall {
  promptTokens: number;
  /** Choices asked in one request (the judge's R repeats share one request). */
  n: number;
}

export interface HostedApiStats {
  requests: number;
  /** Tokens counted against the rate limit. */
  limitTokens: number;
  /** The most one request counted. */
  largestLimitTokens: number;
  /** Simulated seconds requests waited for the rate limit. */
  throttledSeconds: number;
}

export class HostedApiModel {
  private readonly realStart: number;
  /** Simulated time the next request may start at, by the rate limits. */
  private nextStart = 0;
  readonly stats: HostedApiStats = {
    requests: 0,
    limitTokens: 0,
    largestLimitTokens: 0,
    throttledSeconds: 0,
  };

  /** `now`: the wall clock in ms (tests drive it). */
  constructor(
    private readonly timeFactor: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.realStart = now();
  }

  /** Tokens a request counts against the token limit. */
  static limitTokens(call: HostedCall): number {
    return call.promptTokens + FIGURES.SIM_HOSTED_MAX_TOKENS.value * Math.max(1, call.n);
  }

  /**
   * The least simulated time these requests need under the limits, whatever their order: every request but the
   * last one started takes its share of a minute before the next may start, and the last takes the call time.
   */
  static leastSeconds(stats: HostedApiStats): number {
    if (stats.requests === 0) return 0;
    const byRequests = ((stats.requests - 1) * 60) / FIGURES.SIM_HOSTED_RPM.value;
    const byTokens = ((stats.limitTokens - stats.largestLimitTokens) * 60) / FIGURES.SIM_HOSTED_TPM.value;
    return Math.max(byRequests, byTokens) + FIGURES.SIM_HOSTED_CALL_SECONDS.value;
  }

  /** Simulated seconds since the model started, by the wall clock. */
  simNow(): number {
    return ((this.now() - this.realStart) / 1000) * this.timeFactor;
  }

  /** Simulated seconds from now until the request is answered; books its place under the limits. */
  book(call: HostedCall): number {
    const tokens = HostedApiModel.limitTokens(call);
    const now = this.simNow();
    const start = Math.max(now, this.nextStart);
    // The request's share of a minute under each limit: the next start comes after the larger.
    this.nextStart = start + Math.max(60 / FIGURES.SIM_HOSTED_RPM.value, (tokens * 60) / FIGURES.SIM_HOSTED_TPM.value);
    this.stats.requests++;
    this.stats.limitTokens += tokens;
    this.stats.largestLimitTokens = Math.max(this.stats.largestLimitTokens, tokens);
    this.stats.throttledSeconds += start - now;
    return start - now + FIGURES.SIM_HOSTED_CALL_SECONDS.value;
  }

  /** Resolves when the request would have been answered. */
  async call(call: HostedCall): Promise<void> {
    const seconds = this.book(call);
    await new Promise((resolve) => setTimeout(resolve, (seconds / this.timeFactor) * 1000));
  }
}
