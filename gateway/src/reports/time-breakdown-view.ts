/**
 * Where an experiment's time went, as `ragtune status` prints it and the HTML report shows it: time and share
 * per stage (summed over cells, so cells that ran at once each count), the slowest cells, and the time fine-tune
 * jobs waited for a GPU.
 */
import type { Experiment, TimeBreakdown } from "@ragtune/contracts/gateway";
import { escapeHtml } from "./report-figure.js";

/** Seconds as "42 s", "12.5 min" or "3.20 h". */
export function formatDuration(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(2)} h`;
}

interface StageRow {
  stage: string;
  seconds: number;
  share: number;
  count: number;
}

/** Each stage with its share of the summed stage time. */
export function stageRows(breakdown: TimeBreakdown): StageRow[] {
  const total = breakdown.stages.reduce((sum, s) => sum + s.seconds, 0);
  return breakdown.stages.map((s) => ({
    stage: s.stage,
    seconds: s.seconds,
    count: s.count,
    share: total > 0 ? s.seconds / total : 0,
  }));
}

const percent = (share: number) => `${(share * 100).toFixed(0)}%`;

function cellStages(cell: TimeBreakdown["slowestCells"][number]): string {
  return cell.stages.map((s) => `${s.stage} ${formatDuration(s.seconds)}`).join(", ");
}

/** Lines for `ragtune status`; none when nothing has been timed yet. */
export function timeBreakdownLines(experiment: Experiment): string[] {
  const breakdown = experiment.timeBreakdown;
  if (!breakdown || breakdown.stages.length === 0) return [];
  const lines = ["  time     per stage, summed over cells:"];
  for (const row of stageRows(breakdown)) {
    lines.push(
      `           ${row.stage.padEnd(18)} ${formatDuration(row.seconds).padStart(10)}  ${percent(row.share).padStart(4)}  (${row.count})`,
    );
  }
  lines.push(
    `           waiting for a GPU  ${formatDuration(breakdown.queueWaitSeconds).padStart(10)}  (fine-tune jobs in the trainer's queue)`,
  );
  if (breakdown.slowestCells.length) {
    lines.push("  slowest  cells:");
    for (const cell of breakdown.slowestCells) {
      const queued = cell.queueSeconds > 0 ? `, queued ${formatDuration(cell.queueSeconds)}` : "";
      lines.push(`           ${cell.cellKey}  ${formatDuration(cell.seconds)} (${cellStages(cell)}${queued})`);
    }
  }
  return lines;
}

/** The report's section; empty when nothing has been timed. */
export function timeBreakdownHtml(experiment: Experiment): string {
  const breakdown = experiment.timeBreakdown;
  if (!breakdown || breakdown.stages.length === 0) return "";
  const td = (text: string) => `<td>${escapeHtml(text)}</td>`;
  const stages = stageRows(breakdown)
    .map((r) => `<tr>${td(r.stage)}${td(formatDuration(r.seconds))}${td(percent(r.share))}${td(String(r.count))}</tr>`)
    .join("\n");
  const cells = breakdown.slowestCells
    .map(
      (c) =>
        `<tr>${td(c.cellKey)}${td(formatDuration(c.seconds))}${td(cellStages(c))}${td(formatDuration(c.queueSeconds))}</tr>`,
    )
    .join("\n");
  return `<h2>Where the time went</h2>
<p>Time per stage summed over cells (cells that ran at the same time each count). Fine-tune jobs waited
${escapeHtml(formatDuration(breakdown.queueWaitSeconds))} in all in the trainer's queue for a GPU.</p>
<table><thead><tr><th>stage</th><th>time</th><th>share</th><th>cells</th></tr></thead><tbody>
${stages}
</tbody></table>
<table><thead><tr><th>slowest cells</th><th>time</th><th>stages</th><th>waiting for a GPU</th></tr></thead><tbody>
${cells}
</tbody></table>`;
}
