/**
 * How many calls the gateway keeps in flight to one backend. Shared by every cell of a run, so two cells that
 * generate at once share the backend's slots instead of doubling them. Waiters are served first come, first
 * served.
 *
 * The adaptive limit is AIMD over rounds (one round: as many calls finished as the limit allowed): it adds a slot
 * while the round's throughput grew and its latency held near the best seen, keeps the limit when throughput
 * stopped growing (the backend is saturated: more calls would only queue there), and halves it when latency rose
 * well above the best or calls failed. After a few rounds held it probes one slot more, in case the backend
 * had room after all (another experiment finished, the noise of one round hid a gain).
 */

export interface ConcurrencyLimit {
  /** Runs the task once a slot is free. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Calls allowed in flight now. */
  readonly limit: number;
  readonly inFlight: number;
}

export interface AdaptiveOptions {
  initial: number;
  max: number;
  min?: number;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
  /** Latency "holds" while a round's mean is within this factor of the best round's. Default 1.5. */
  latencyTolerance?: number;
  /** Throughput "grows" when a round's is at least this factor of the previous one's. Default 1.05. */
  growth?: number;
  /** Rounds held at one limit before probing one slot more. Default 4. */
  probeAfter?: number;
}

class Slots {
  inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(public limit: number) {}

  async acquire(): Promise<void> {
    if (this.inFlight < this.limit) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    this.inFlight--;
    this.wakeWaiters();
  }

  setLimit(limit: number): void {
    this.limit = limit;
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    while (this.inFlight < this.limit && this.waiting.length) {
      this.inFlight++;
      this.waiting.shift()!();
    }
  }
}

export function fixedLimit(limit: number): ConcurrencyLimit {
  const slots = new Slots(Math.max(1, limit));
  return {
    async run(task) {
      await slots.acquire();
      try {
        return await task();
      } finally {
        slots.release();
      }
    },
    get limit() {
      return slots.limit;
    },
    get inFlight() {
      return slots.inFlight;
    },
  };
}

export function adaptiveLimit(options: AdaptiveOptions): ConcurrencyLimit {
  const now = options.now ?? Date.now;
  const min = Math.max(1, options.min ?? 1);
  const max = Math.max(min, options.max);
  const tolerance = options.latencyTolerance ?? 1.5;
  const growth = options.growth ?? 1.05;
  const probeAfter = options.probeAfter ?? 4;
  const slots = new Slots(Math.min(max, Math.max(min, options.initial)));

  // Calls admitted under an older limit say nothing about the new one: only later calls make a round.
  let roundStart = now();
  let roundCalls = 0;
  let roundLatency = 0;
  let roundFailed = false;
  let roundBusiest = 0;
  let bestLatency = Number.POSITIVE_INFINITY;
  let previousThroughput = 0;
  let heldRounds = 0;

  const endRound = () => {
    const elapsed = Math.max(1, now() - roundStart);
    const throughput = roundCalls / elapsed;
    const latency = roundLatency / roundCalls;
    bestLatency = Math.min(bestLatency, latency);
    const latencyHolds = latency <= bestLatency * tolerance;
    let next = slots.limit;
    if (roundFailed || !latencyHolds) {
      next = Math.max(min, Math.floor(slots.limit / 2));
      heldRounds = 0;
    } else if (roundBusiest < slots.limit) {
      // Fewer calls were waiting than slots: the round says nothing about what one more slot would do.
    } else if (throughput >= previousThroughput * growth || ++heldRounds >= probeAfter) {
      next = Math.min(max, slots.limit + 1);
      heldRounds = 0;
    }
    previousThroughput = throughput;
    slots.setLimit(next);
    roundStart = now();
    roundCalls = 0;
    roundLatency = 0;
    roundFailed = false;
    roundBusiest = 0;
  };

  const record = (latency: number, failed: boolean) => {
    roundCalls++;
    roundLatency += latency;
    roundFailed ||= failed;
    if (roundCalls >= slots.limit) endRound();
  };

  return {
    async run(task) {
      await slots.acquire();
      roundBusiest = Math.max(roundBusiest, slots.inFlight);
      const started = now();
      let failed = false;
      try {
        return await task();
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        slots.release();
        if (started >= roundStart) record(now() - started, failed);
      }
    },
    get limit() {
      return slots.limit;
    },
    get inFlight() {
      return slots.inFlight;
    },
  };
}
