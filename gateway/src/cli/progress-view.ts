/**
 * What a person following a run sees: the stage the gateway is in with cells done/total, and one line per stage
 * of the run (retrieve, train, generate, judge) with its items done/total, rate and ETA. On a terminal the block
 * is redrawn in place, a bar per stage; elsewhere (a log file, CI) plain lines are printed when the stage changes,
 * when a cell finishes and every `everyMs` in between.
 *
 * Rates are measured while following (items done since the first update seen, over the time since), so a
 * resumed run's earlier work does not inflate them.
 */
import { type Experiment, ExperimentState } from "@ragtune/contracts/gateway";

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressViewOptions {
  /** Plain output: lines at least this often while a run goes on. Default 30 s. */
  everyMs?: number;
  now?: () => number;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Items per second as a person reads it: per second from 1/s up, else per minute. */
export function formatRate(perSecond: number): string {
  if (!(perSecond > 0)) return "–/s";
  if (perSecond >= 1) return `${perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond)}/s`;
  const perMinute = perSecond * 60;
  return `${perMinute < 10 ? perMinute.toFixed(1) : Math.round(perMinute)}/min`;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

function bar(done: number, total: number, width: number): string {
  const filled = total ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

export interface ProgressView {
  /** A new state of the experiment, from the watch stream. */
  update(experiment: Experiment): void;
  /** Time passed: redraw (terminal) or print the periodic lines (plain). */
  tick(): void;
  /** Ends the drawing (the run ended, or the follower stops following). */
  close(): void;
}

interface Seen {
  done: number;
  at: number;
}

export function createProgressView(out: ProgressOutput, options: ProgressViewOptions = {}): ProgressView {
  const now = options.now ?? Date.now;
  const everyMs = options.everyMs ?? 30_000;
  const tty = Boolean(out.isTTY);
  const width = out.columns ?? 100;
  const firstSeen = new Map<string, Seen>();
  let latest: Experiment | undefined;
  let stage = "";
  let stageStart = now();
  let lastPrinted = 0;
  let drawnLines = 0;
  let unprinted = false;

  const stageLine = (name: string, done: number, total: number): string => {
    const first = firstSeen.get(name) ?? { done, at: now() };
    firstSeen.set(name, first);
    const seconds = (now() - first.at) / 1000;
    const rate = seconds > 0 ? (done - first.done) / seconds : 0;
    const eta = done >= total ? "done" : rate > 0 ? `ETA ${formatDuration(((total - done) / rate) * 1000)}` : "ETA –";
    const counts = `${done}/${total}  ${formatRate(rate)}  ${eta}`;
    return tty ? `  ${name.padEnd(8)} ${bar(done, total, 20)} ${counts}` : `${name} ${counts}`;
  };

  const header = (e: Experiment): string => {
    const name = stage || ExperimentState[e.state].toLowerCase();
    const tail = `  ${e.cellsDone}/${e.cellsTotal} cells  (stage ${formatDuration(now() - stageStart)})`;
    const room = Math.max(10, width - tail.length - 1);
    return `${name.length > room ? `${name.slice(0, room - 1)}…` : name}${tail}`;
  };

  const lines = (e: Experiment): string[] => [
    header(e),
    ...e.stages.filter((s) => s.total > 0n).map((s) => stageLine(s.stage, Number(s.done), Number(s.total))),
  ];

  const draw = () => {
    if (!latest) return;
    const current = lines(latest);
    if (tty) {
      // Back to the block's first line, then every line rewritten (a new stage adds one below).
      const up = drawnLines > 1 ? `\x1b[${drawnLines - 1}A` : "";
      out.write(`${up}\r${current.map((l) => `\x1b[2K${l}`).join("\n")}`);
      drawnLines = current.length;
    } else {
      const time = clock(now());
      out.write(`${current.map((l, i) => (i === 0 ? `${time} ${l}` : `${time}   ${l}`)).join("\n")}\n`);
    }
    lastPrinted = now();
    unprinted = false;
  };

  return {
    update(experiment) {
      const changed = experiment.currentStage !== stage && experiment.currentStage !== "";
      const cellFinished = latest !== undefined && latest.cellsDone !== experiment.cellsDone;
      latest = experiment;
      if (changed) {
        stage = experiment.currentStage;
        stageStart = now();
      }
      for (const s of experiment.stages) stageLine(s.stage, Number(s.done), Number(s.total)); // rates start here
      unprinted = true;
      if (changed || tty || cellFinished || lastPrinted === 0) draw();
    },
    tick() {
      if (!latest) return;
      if (tty) draw();
      else if (now() - lastPrinted >= everyMs) draw();
    },
    close() {
      if (tty && drawnLines > 0) {
        draw();
        out.write("\n");
        drawnLines = 0;
      } else if (!tty && unprinted) {
        draw(); // the counts the run ended with
      }
    },
  };
}
