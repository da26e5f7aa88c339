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
  /** Part of a step not yet finished when the clock stopped (simulated s of the current step already done). */
  private stall = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The whole GPU: busy time counted once, requests and tokens of every server. */
  readonly stats: EngineStats = newStats();

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

  private get idle(): boolean {
    return [...this.servers.values()].every((s) => s.running.length === 0);
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

  /** Moves the simulated engine up to the wall clock's simulated time. */
  private advance() {
    const target = this.simClock();
    while (this.simNow < target) {
      if (this.stall > 0) {
        const used = Math.min(this.stall, target - this.simNow);
        this.stall -= used;
        this.simNow += used;
        this.stats.busySeconds += used;
        continue;
      }
      const server = this.stepping();
      if (!server) {
        this.simNow = target;
        break;
      }
      const { step, count } = this.nextSteps(server);
      const fit = Math.min(count, Math.floor((target - this.simNow) / step));
      if (fit < 1) break; // the next step ends after now: it is still running
      this.simNow += fit * step;
      this.stats.busySeconds += fit * step;
      server.stats.busySeconds += fit * step;
      this.turn++;
      this.apply(server, fit);
      this.admit();
    }
  }

  /** Wakes when the next event (a step ending) is due by the wall clock. */
  private schedule() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.idle && this.stall === 0) return;
    const server = this.stepping();
    const { step, count } = server ? this.nextSteps(server) : { step: 0, count: 0 };
    const dueSim = this.simNow + this.stall + step * count;
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
