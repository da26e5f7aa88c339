/**
 * A timing model of one vLLM engine on one GPU (continuous batching), run as a discrete-event simulation kept in
 * step with the wall clock sped up by a time factor: a request submitted now resolves when the modelled engine
 * would have finished it. Each engine step decodes one token for every running sequence and prefills up to a
 * token budget of waiting prompts (chunked prefill); its time is
 *   (t0 + decoding · t_seq + prefill tokens / prefill rate) × (LoRA overhead if an adapter is in the batch),
 * where t0 and t_seq come from the batch-1 and full-batch decode rates. At most `batchLimit` sequences run;
 * the rest wait in order. A request for an adapter the engine has not used yet stalls it for the adapter's load.
 */
import { FIGURES } from "./published-figures.js";

export interface EngineRequest {
  promptTokens: number;
  outputTokens: number;
  /** LoRA adapter name, "" for the base model. */
  adapter: string;
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
  /** Simulated seconds with work on the GPU. */
  busySeconds: number;
  requests: number;
  promptTokens: number;
  outputTokens: number;
  adapterLoads: number;
  /** Most sequences running at once. */
  peakBatch: number;
}

export class VllmEngineModel {
  private readonly t0 = 1 / FIGURES.SIM_DECODE_TOKENS_PER_SECOND_BATCH1.value;
  private readonly tSeq: number;
  private readonly batchLimit = FIGURES.SIM_BATCH_LIMIT.value;
  private readonly waiting: Sequence[] = [];
  private readonly running: Sequence[] = [];
  private readonly loaded = new Set<string>();
  /** Simulated time the engine has been advanced to, s. */
  private simNow = 0;
  private readonly realStart: number;
  /** Part of a step not yet finished when the clock stopped (simulated s of the current step already done). */
  private stall = 0;
  private timer: NodeJS.Timeout | undefined;
  readonly stats: EngineStats = {
    busySeconds: 0,
    requests: 0,
    promptTokens: 0,
    outputTokens: 0,
    adapterLoads: 0,
    peakBatch: 0,
  };

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

  submit(request: EngineRequest): Promise<void> {
    this.advance();
    this.stats.requests++;
    this.stats.promptTokens += request.promptTokens;
    this.stats.outputTokens += request.outputTokens;
    const promise = new Promise<void>((done) =>
      this.waiting.push({
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
    while (this.running.length < this.batchLimit && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      if (next.adapter && !this.loaded.has(next.adapter)) {
        this.loaded.add(next.adapter);
        this.stats.adapterLoads++;
        this.stall += FIGURES.SIM_ADAPTER_LOAD_SECONDS.value;
      }
      this.running.push(next);
    }
    this.stats.peakBatch = Math.max(this.stats.peakBatch, this.running.length);
  }

  /** Duration of the next step and how many steps like it can run before a sequence changes phase or ends. */
  private nextSteps(): { step: number; count: number } {
    const prefilling = this.running.filter((s) => s.prefillLeft > 0);
    const decoding = this.running.filter((s) => s.prefillLeft === 0);
    const prefill = Math.min(
      PREFILL_BUDGET,
      prefilling.reduce((sum, s) => sum + s.prefillLeft, 0),
    );
    const withLora = this.running.some((s) => s.adapter);
    const step =
      (this.t0 + decoding.length * this.tSeq + prefill / FIGURES.SIM_PREFILL_TOKENS_PER_SECOND.value) *
      (withLora ? FIGURES.SIM_LORA_STEP_OVERHEAD.value : 1);
    // While prompts are prefilled, step by step; otherwise every step alike until the shortest answer ends.
    const count = prefilling.length ? 1 : Math.min(...decoding.map((s) => s.decodeLeft));
    return { step, count };
  }

  /** Runs one step's bookkeeping `count` times over. */
  private apply(count: number) {
    let budget = PREFILL_BUDGET;
    for (const s of this.running) {
      if (s.prefillLeft > 0) {
        const used = Math.min(budget, s.prefillLeft);
        s.prefillLeft -= used;
        budget -= used;
      } else {
        s.decodeLeft -= count;
      }
    }
    for (let i = this.running.length - 1; i >= 0; i--) {
      const s = this.running[i];
      if (s.prefillLeft === 0 && s.decodeLeft <= 0) {
        this.running.splice(i, 1);
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
      if (this.running.length === 0) {
        this.simNow = target;
        break;
      }
      const { step, count } = this.nextSteps();
      const fit = Math.min(count, Math.floor((target - this.simNow) / step));
      if (fit < 1) break; // the next step ends after now: it is still running
      this.simNow += fit * step;
      this.stats.busySeconds += fit * step;
      this.apply(fit);
      this.admit();
    }
  }

  /** Wakes when the next event (a step ending) is due by the wall clock. */
  private schedule() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running.length === 0 && this.stall === 0) return;
    const { step, count } = this.running.length ? this.nextSteps() : { step: 0, count: 0 };
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
