import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@ragtune/contracts/grpc-health";
import { waitForWake } from "./wake.js";

export { ServingStatus };

/**
 * Health name for liveness probes: SERVING for as long as the process answers, whatever its backends say.
 * Readiness ("" and each service name) follows the backends; a liveness probe on it would restart a healthy
 * process every time NATS blinks.
 */
export const LIVENESS_SERVICE = "ragtune.liveness";

/** A backend the service needs; check() throws when it cannot be reached. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

/**
 * Serving status per gRPC service name ("" is the whole server). SERVING only while every readiness check
 * passes and the server is not draining; re-checked every interval so a lost backend turns the status
 * NOT_SERVING and a recovered one turns it back.
 */
export class HealthState {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly listeners = new Set<() => void>();
  private draining = false;
  private timer?: NodeJS.Timeout;
  /** Why the last check failed, for logs and `ragtune status`. */
  lastFailure?: string;

  constructor(
    private readonly serviceNames: string[],
    private readonly checks: ReadinessCheck[],
    private readonly onChange?: (status: ServingStatus, reason?: string) => void,
  ) {
    this.setAll(ServingStatus.NOT_SERVING);
    this.statuses.set(LIVENESS_SERVICE, ServingStatus.SERVING);
  }

  status(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  all(): ReadonlyMap<string, ServingStatus> {
    return this.statuses;
  }

  /** Runs the checks now and updates every status. */
  async refresh(): Promise<ServingStatus> {
    if (this.draining) return ServingStatus.NOT_SERVING;
    const failures: string[] = [];
    await Promise.all(
      this.checks.map(async ({ name, check }) => {
        try {
          await withTimeout(check(), 5000, `${name} check timed out`);
        } catch (error) {
          failures.push(`${name}: ${(error as Error).message}`);
        }
      }),
    );
    if (this.draining) return ServingStatus.NOT_SERVING;
    const status = failures.length ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
    const reason = failures.join("; ") || undefined;
    if (status !== this.statuses.get("") || reason !== this.lastFailure) this.onChange?.(status, reason);
    this.lastFailure = reason;
    this.setAll(status);
    return status;
  }

  startPolling(intervalMs: number): void {
    this.stopPolling();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** From now on NOT_SERVING, whatever the checks say. */
  drain(): void {
    this.draining = true;
    this.stopPolling();
    this.setAll(ServingStatus.NOT_SERVING);
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private setAll(status: ServingStatus): void {
    let changed = false;
    for (const name of ["", ...this.serviceNames]) {
      if (this.statuses.get(name) !== status) changed = true;
      this.statuses.set(name, status);
    }
    if (changed) for (const listener of this.listeners) listener();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** grpc.health.v1.Health over a HealthState. */
export function createHealthService(state: HealthState): Partial<ServiceImpl<typeof Health>> {
  const lookup = (service: string) => {
    const status = state.status(service);
    if (status === undefined) throw new ConnectError(`unknown service "${service}"`, Code.NotFound);
    return status;
  };
  return {
    check: (req) => ({ status: lookup(req.service) }),
    list: () => ({
      statuses: Object.fromEntries([...state.all()].map(([name, status]) => [name, { status }])),
    }),
    async *watch(req, ctx) {
      let last: ServingStatus | undefined;
      let wake: (() => void) | undefined;
      const unsubscribe = state.subscribe(() => wake?.());
      try {
        while (!ctx.signal.aborted) {
          const status = state.status(req.service) ?? ServingStatus.SERVICE_UNKNOWN;
          if (status !== last) {
            last = status;
            yield { status };
          }
          await waitForWake(ctx.signal, (woken) => {
            wake = woken;
          });
        }
      } finally {
        unsubscribe();
      }
    },
  };
}
