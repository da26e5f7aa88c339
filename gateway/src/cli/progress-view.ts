/**
 * What a person following a run sees: one line per stage with cells done/total, the rate and an ETA. On a
 * terminal the current stage's line is redrawn in place (a bar); elsewhere (a log file, CI) plain lines are
 * printed when the stage changes and every `everyMs` in between.
 *
 * Counts are cells of the grid: the gateway reports cells done and the stage it is in, not items inside a cell.
 */
import { type Experiment, ExperimentState } from "@ragtune/contracts/gateway";

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressViewOptions {
  /** Plain output: a line at least this often while a stage runs. Default 30 s. */
  everyMs?: number;
  now?: () => number;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

export interface ProgressView {
  /** A new state of the experiment, from the watch stream. */
  update(experiment: Experiment): void;
  /** Time passed: redraw (terminal) or print the periodic line (plain). */
  tick(): void;
  /** Ends the current line (the run ended, or the follower stops following). */
  close(): void;
}

export function createProgressView(out: ProgressOutput, options: ProgressViewOptions = {}): ProgressView {
  const now = options.now ?? Date.now;
  const everyMs = options.everyMs ?? 30_000;
  const tty = Boolean(out.isTTY);
  const started = now();
  let cellsAtStart: number | undefined;
  let latest: Experiment | undefined;
  let stage = "";
  let stageStart = started;
  let lastPrinted = 0;
  let lineOpen = false;

  const describe = (e: Experiment): string => {
    const done = e.cellsDone;
    const total = e.cellsTotal;
    const elapsedMin = (now() - started) / 60_000;
    const gained = done - (cellsAtStart ?? done);
    const rate = gained > 0 && elapsedMin > 0 ? gained / elapsedMin : 0;
    const eta = rate > 0 ? formatDuration(((total - done) / rate) * 60_000) : "–";
    const rateText = rate > 0 ? `${rate < 10 ? rate.toFixed(1) : Math.round(rate)}/min` : "–/min";
    const counts = `${done}/${total} cells  ${rateText}  ETA ${eta}  (stage ${formatDuration(now() - stageStart)})`;
    const name = stage || ExperimentState[e.state].toLowerCase();
    if (!tty) return `${clock(now())} ${name}  ${counts}`;
    const width = 12;
    const filled = total ? Math.round((done / total) * width) : 0;
    const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
    const tail = `  ${bar} ${counts}`;
    const room = Math.max(10, (out.columns ?? 100) - tail.length - 1);
    return `${name.length > room ? `${name.slice(0, room - 1)}…` : name}${tail}`;
  };

  const draw = () => {
    if (!latest) return;
    if (tty) {
      out.write(`\r\x1b[2K${describe(latest)}`);
      lineOpen = true;
    } else {
      out.write(`${describe(latest)}\n`);
    }
    lastPrinted = now();
  };

  return {
    update(experiment) {
      cellsAtStart ??= experiment.cellsDone;
      const changed = experiment.currentStage !== stage && experiment.currentStage !== "";
      if (changed && latest && stage) {
        // The finished stage keeps its line; the next one starts below it.
        if (tty) {
          draw();
          out.write("\n");
          lineOpen = false;
        }
      }
      const cellFinished = latest !== undefined && latest.cellsDone !== experiment.cellsDone;
      latest = experiment;
      if (changed) {
        stage = experiment.currentStage;
        stageStart = now();
      }
      if (changed || tty || cellFinished) draw();
    },
    tick() {
      if (!latest || !stage) return;
      if (tty) draw();
      else if (now() - lastPrinted >= everyMs) draw();
    },
    close() {
      if (tty && lineOpen) {
        draw();
        out.write("\n");
        lineOpen = false;
      }
    },
  };
}
