/**
 * What a person sees while `ragtune datasets download` fetches a file: on a terminal one bar per file, redrawn in
 * place, with bytes done/total, the rate and an ETA; elsewhere (a log, CI) a plain line when a file starts, every
 * `everyMs` while it runs and when it is done.
 */
import type { FileProgress } from "@ragtune/datasets";
import type { ProgressOutput } from "./progress-view.js";
import { formatDuration } from "./progress-view.js";

export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export interface DownloadProgressOptions {
  /** Plain output: a line at least this often while a file is fetched. Default 10 s. */
  everyMs?: number;
  /** Terminal: the most redraws per second. Default 10. */
  redrawsPerSecond?: number;
  now?: () => number;
}

interface FileState {
  started: number;
  lastDrawn: number;
}

export interface DownloadProgress {
  /** A FileProgress listener: draws (terminal) or prints (plain) the progress of each file. */
  update(progress: FileProgress): void;
  /** Ends a bar left open by a transfer that broke off, so what follows starts on its own line. */
  close(): void;
}

export function createDownloadProgress(out: ProgressOutput, options: DownloadProgressOptions = {}): DownloadProgress {
  const now = options.now ?? Date.now;
  const tty = Boolean(out.isTTY);
  const everyMs = tty ? 1000 / (options.redrawsPerSecond ?? 10) : (options.everyMs ?? 10_000);
  const files = new Map<string, FileState>();

  const describe = (p: FileProgress, state: FileState): string => {
    const seconds = (now() - state.started) / 1000;
    const rate = seconds > 0 ? (p.received - p.resumedFrom) / seconds : 0;
    const left = p.total !== undefined ? p.total - p.received : undefined;
    const eta = p.done
      ? "done"
      : rate > 0 && left !== undefined
        ? `ETA ${formatDuration((left / rate) * 1000)}`
        : "ETA –";
    const size = `${formatBytes(p.received)}/${p.total !== undefined ? formatBytes(p.total) : "?"}`;
    const percent = p.total ? ` ${Math.floor((p.received / p.total) * 100)}%` : "";
    const resumed = p.resumedFrom > 0 ? `  (resumed at ${formatBytes(p.resumedFrom)})` : "";
    const counts = `${size}${percent}  ${rate > 0 ? `${formatBytes(rate)}/s` : "–/s"}  ${eta}${resumed}`;
    if (!tty) return `${p.name}: ${counts}`;
    const width = 20;
    const filled = p.total ? Math.min(width, Math.round((p.received / p.total) * width)) : 0;
    return `${p.name} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${counts}`;
  };

  let lineOpen = false;
  const update = (p: FileProgress) => {
    let state = files.get(p.name);
    const first = state === undefined;
    if (!state) {
      state = { started: now(), lastDrawn: 0 };
      files.set(p.name, state);
    }
    if (!first && !p.done && now() - state.lastDrawn < everyMs) return;
    state.lastDrawn = now();
    const line = describe(p, state);
    if (tty) {
      out.write(`\r\x1b[2K${line.slice(0, Math.max(20, (out.columns ?? 120) - 1))}${p.done ? "\n" : ""}`);
      lineOpen = !p.done;
    } else out.write(`${line}\n`);
    if (p.done) files.delete(p.name);
  };
  return {
    update,
    close() {
      if (lineOpen) out.write("\n");
      lineOpen = false;
    },
  };
}
