/**
 * A timing model of one vLLM engine on one GPU (continuous batching), run as a discrete-event simulation kept in
 * step with the wall clock sped up by a time factor: a request submitted now resolves when the modelled engine
 * would have finished it. Each engine step decodes one token for every running sequence and prefills up to a
 * token budget of waiting prompts (chunked prefill); its time is
 *   (t0 + decoding · t_seq + prefill tokens / prefill rate) × (LoRA overhead if an adapter is in the batch),
 * where t0 and t_seq come from the batch-1 and full-batch decode rates. At most `batchLimit` sequences run;
 * the rest wait in order. A request for an adapter the engine has not used yet stalls it for the adapter's load.
 *
 * Several vLLM servers may share the GPU (one per base model, each with its own batch, as two 7B servers at
 * --gpu-memory-utilization 0.45 do on one 80 GB card): a request names its server (`server`), and while more than
 * one has sequences running their steps take turns, one step each (the GPU time-slices their kernels); the GPU's
 * busy time is counted once.
 *
 * A fine-tune may run on the GPU beside the servers (`train`): while both have work they time-slice the GPU, each
 * at SIM_TIME_SLICE_EFFICIENCY / 2 of it (context switches cost the rest); alone, each has all of it.
 */
import { FIGURES } from "./published-figures.js";

export interface EngineRequest {
  promptTokens: number;
  outputTokens: number;
  /** LoRA adapter name, "" for the base model. */
  adapter: string;
  /** The vLLM server on this GPU that serves it (its base model); "" when the GPU has one. */
  server?: string;
}

interface Sequence {
  prefillLeft: number;
  decodeLeft: number;
  adapter: string;
  done: () => void;
}

/** Training work on the GPU: simulated seconds of the whole GPU still to do. */
interface TrainingWork {
  left: number;
  done: () => void;
}

/** Work below this (simulated s) is done: floating-point remainders of splitting a piece. */
const EPSILON = 1e-9;

/** Tokens of prompts prefilled per step (vLLM's max_num_batched_tokens with chunked prefill). */
const PREFILL_BUDGET = 2048;

export interface EngineStats {
  /** Simulated seconds with work on the GPU (of this server: its own steps and adapter loads). */
  busySeconds: number;
  requests: number;
  promptTokens: number;
  outputTokens: number;
  adapterLoads: number;
  /** Most sequences running at once. */
  peakBatch: number;
}

/** One vLLM server's batch on the GPU. */
interface Server {
  waiting: Sequence[];
  running: Sequence[];
  loaded: Set<string>;
  stats: EngineStats;
}

const newStats = (): EngineStats => ({
  busySeconds: 0,
  requests: 0,
  promptTokens: 0,
  outputTokens: 0,
  adapterLoads: 0,
  peakBatch: 0,
});

export class VllmEngineModel {
  private readonly t0 = 1 / FIGURES.SIM_DECODE_TOKENS_PER_SECOND_BATCH1.value;
  private readonly tSeq: number;
  private readonly batchLimit = FIGURES.SIM_BATCH_LIMIT.value;
  private readonly servers = new Map<string, Server>();
  /** Whose step is next while several servers have sequences running. */
  private turn = 0;
  /** Simulated time the engine has been advanced to, s. */
  private simNow = 0;
  private readonly realStart: number;
  /** Simulated seconds of adapter loading still to do (the engine stalls for it). */
  private stall = 0;
  /** Simulated seconds of the engine's current steps already done. */
  private pieceDone = 0;
  /** Training work waiting for or running on this GPU, in order. */
  private readonly training: TrainingWork[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The whole GPU's engine: busy time counted once, requests and tokens of every server. */
  readonly stats: EngineStats = newStats();
  /** Training on this GPU (simulated s of work done) and the time anything had work on it (simulated s). */
  readonly gpu = { trainingSeconds: 0, occupiedSeconds: 0 };

  /** `now`: the wall clock in ms (tests hold it still while they submit a batch at one instant). */
  constructor(
    private readonly timeFactor: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.realStart = now();
    const full = FIGURES.SIM_DECODE_TOKENS_PER_SECOND_FULL.value;
    // step(b) = t0 + b·tSeq; at the batch limit, b / step(b) = the full-batch rate.
    this.tSeq = Math.max(0, (this.batchLimit / full - this.t0) / (this.batchLimit - 1));
  }

  /** Simulated seconds since the engine started, by the wall clock. */
  private simClock(): number {
    return ((this.now() - this.realStart) / 1000) * this.timeFactor;
  }

  /** The servers on this GPU and their own figures. */
  serverStats(): Map<string, EngineStats> {
    return new Map([...this.servers].map(([name, server]) => [name, server.stats]));
  }

  private server(name: string): Server {
    let server = this.servers.get(name);
    if (!server) {
      server = { waiting: [], running: [], loaded: new Set(), stats: newStats() };
      this.servers.set(name, server);
    }
    return server;
  }

  submit(request: EngineRequest): Promise<void> {
    this.advance();
    const server = this.server(request.server ?? "");
    for (const stats of [this.stats, server.stats]) {
      stats.requests++;
      stats.promptTokens += request.promptTokens;
      stats.outputTokens += request.outputTokens;
    }
    const promise = new Promise<void>((done) =>
      server.waiting.push({
        prefillLeft: Math.max(1, request.promptTokens),
        decodeLeft: Math.max(1, request.outputTokens),
        adapter: request.adapter,
        done,
      }),
    );
    this.admit();
    this.schedule();
    return promise;
  }

  private admit() {
    for (const server of this.servers.values()) {
      while (server.running.length < this.batchLimit && server.waiting.length > 0) {
        const next = server.waiting.shift()!;
        if (next.adapter && !server.loaded.has(next.adapter)) {
          server.loaded.add(next.adapter);
          this.stats.adapterLoads++;
          server.stats.adapterLoads++;
          server.stats.busySeconds += FIGURES.SIM_ADAPTER_LOAD_SECONDS.value;
          this.stall += FIGURES.SIM_ADAPTER_LOAD_SECONDS.value;
        }
        server.running.push(next);
      }
      server.stats.peakBatch = Math.max(server.stats.peakBatch, server.running.length);
      this.stats.peakBatch = Math.max(this.stats.peakBatch, server.running.length);
    }
  }

  /** The server whose step runs next: the only one with sequences running, or each in turn. */
  private stepping(): Server | undefined {
    const active = [...this.servers.values()].filter((s) => s.running.length > 0);
    return active.length ? active[this.turn % active.length] : undefined;
  }

  /**
   * Duration of `server`'s next step and how many steps like it can run before a sequence changes phase or ends
   * (one when another server has sequences too: their steps take turns).
   */
  private nextSteps(server: Server): { step: number; count: number } {
    const prefilling = server.running.filter((s) => s.prefillLeft > 0);
    const decoding = server.running.filter((s) => s.prefillLeft === 0);
    const prefill = Math.min(
      PREFILL_BUDGET,
      prefilling.reduce((sum, s) => sum + s.prefillLeft, 0),
    );
    const withLora = server.running.some((s) => s.adapter);
    const step =
      (this.t0 + decoding.length * this.tSeq + prefill / FIGURES.SIM_PREFILL_TOKENS_PER_SECOND.value) *
      (withLora ? FIGURES.SIM_LORA_STEP_OVERHEAD.value : 1);
    // While prompts are prefilled, step by step; otherwise every step alike until the shortest answer ends.
    const shared = [...this.servers.values()].some((s) => s !== server && s.running.length > 0);
    const count = prefilling.length || shared ? 1 : Math.min(...decoding.map((s) => s.decodeLeft));
    return { step, count };
  }

  /** Runs one of `server`'s steps' bookkeeping `count` times over. */
  private apply(server: Server, count: number) {
    let budget = PREFILL_BUDGET;
    for (const s of server.running) {
      if (s.prefillLeft > 0) {
        const used = Math.min(budget, s.prefillLeft);
        s.prefillLeft -= used;
        budget -= used;
      } else {
        s.decodeLeft -= count;
      }
    }
    for (let i = server.running.length - 1; i >= 0; i--) {
      const s = server.running[i];
      if (s.prefillLeft === 0 && s.decodeLeft <= 0) {
        server.running.splice(i, 1);
        s.done();
      }
    }
  }

  /**
   * Training work to run on this GPU beside the engine (a fine-tune placed on a serving GPU), in simulated
   * seconds of the whole GPU; resolves when it is done. While the engine has work too, the two time-slice the GPU:
   * each advances at SIM_TIME_SLICE_EFFICIENCY / 2 of the GPU. Aborting drops what is left.
   */
  train(seconds: number, signal?: AbortSignal): Promise<void> {
    this.advance();
    if (seconds <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((done) => {
      const work: TrainingWork = { left: seconds, done };
      this.training.push(work);
      signal?.addEventListener(
        "abort",
        () => {
          this.advance();
          const at = this.training.indexOf(work);
          if (at >= 0) this.training.splice(at, 1);
          done();
          this.schedule();
        },
        { once: true },
      );
      this.schedule();
    });
  }

  /** The engine's next piece of work: an adapter load, or `count` of a server's steps; undefined when idle. */
  private enginePiece(): { left: number; server?: Server; step: number; count: number } | undefined {
    if (this.stall > 0) return { left: this.stall, step: this.stall, count: 1 };
    const server = this.stepping();
    if (!server) return undefined;
    const { step, count } = this.nextSteps(server);
    return { left: Math.max(0, step * count - this.pieceDone), server, step, count };
  }

  /** The share of the GPU each tenant (the engine, training) advances at while `tenants` of them have work. */
  private static rate(tenants: number): number {
    return tenants > 1 ? FIGURES.SIM_TIME_SLICE_EFFICIENCY.value / tenants : 1;
  }

  /** Moves the simulated GPU up to the wall clock's simulated time. */
  private advance() {
    const target = this.simClock();
    while (this.simNow < target) {
      const piece = this.enginePiece();
      const training = this.training[0];
      if (!piece && !training) {
        this.simNow = target;
        break;
      }
      const rate = VllmEngineModel.rate((piece ? 1 : 0) + (training ? 1 : 0));
      // Until the first of the two pieces ends, or the wall clock's time if that comes first.
      const untilEnd = Math.min(piece?.left ?? Infinity, training?.left ?? Infinity) / rate;
      const span = Math.min(untilEnd, target - this.simNow);
      const work = span * rate;
      this.simNow += span;
      this.gpu.occupiedSeconds += span;
      if (training) {
        training.left -= work;
        this.gpu.trainingSeconds += work;
        if (training.left <= EPSILON) {
          this.training.shift();
          training.done();
        }
      }
      if (piece) this.engineWorked(piece, work);
      if (span < untilEnd) break; // the wall clock's time came first: the pieces are still running
    }
  }

  /** Counts `work` simulated seconds done on the engine's piece; applies the steps it completed. */
  private engineWorked(piece: NonNullable<ReturnType<VllmEngineModel["enginePiece"]>>, work: number) {
    this.stats.busySeconds += work;
    if (!piece.server) {
      this.stall = Math.max(0, this.stall - work);
      if (this.stall <= EPSILON) this.stall = 0;
      return;
    }
    piece.server.stats.busySeconds += work;
    this.pieceDone += work;
    // Whole steps done are applied now, so a request that arrives joins the batch at the next step's start.
    const steps = Math.min(piece.count, Math.floor(this.pieceDone / piece.step + EPSILON));
    if (steps < 1) return;
    this.pieceDone = Math.max(0, this.pieceDone - steps * piece.step);
    this.turn++;
    this.apply(piece.server, steps);
    this.admit();
  }

  /** Wakes when the next event (a step, an adapter load or training work ending) is due by the wall clock. */
  private schedule() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const piece = this.enginePiece();
    const training = this.training[0];
    if (!piece && !training) return;
    const rate = VllmEngineModel.rate((piece ? 1 : 0) + (training ? 1 : 0));
    const dueSim = this.simNow + Math.min(piece?.left ?? Infinity, training?.left ?? Infinity) / rate;
    const dueReal = (dueSim - this.simClock()) / this.timeFactor;
    this.timer = setTimeout(
      () => {
        this.advance();
        this.schedule();
      },
      Math.max(0, dueReal * 1000),
    );
  }

  close() {
    if (this.timer) clearTimeout(this.timer);
  }
}
