/**
 * The HTML report: the results table and, as in the paper, one figure per criterion and base model showing the
 * score by fine-tuning size for each dataset (size 0 is the base model), with 95% intervals.
 */
import type { Experiment, ResultRow } from "@ragtune/contracts/gateway";
import { methodLabel } from "./results-csv.js";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/** Score (1–5) against fine-tuning size, one line per dataset; the first method and hyperparameter set. */
function figure(rows: ResultRow[], criterion: string, model: string): string {
  const width = 460;
  const height = 300;
  const pad = { left: 50, right: 130, top: 30, bottom: 45 };
  const sizes = [...new Set(rows.map((r) => r.finetuneSize))].sort((a, b) => a - b);
  const datasets = [...new Set(rows.map((r) => r.dataset))];
  const x = (size: number) =>
    pad.left + (sizes.length === 1 ? 0 : (sizes.indexOf(size) / (sizes.length - 1)) * (width - pad.left - pad.right));
  const y = (score: number) => pad.top + ((5 - score) / 4) * (height - pad.top - pad.bottom);
  const parts: string[] = [];
  for (let s = 1; s <= 5; s++) {
    parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(s)}" y2="${y(s)}" stroke="#ddd"/>`);
    parts.push(`<text x="${pad.left - 8}" y="${y(s) + 4}" text-anchor="end" font-size="11">${s}</text>`);
  }
  for (const size of sizes) {
    parts.push(
      `<text x="${x(size)}" y="${height - pad.bottom + 18}" text-anchor="middle" font-size="11">${size === 0 ? "base" : size}</text>`,
    );
  }
  parts.push(
    `<text x="${(pad.left + width - pad.right) / 2}" y="${height - 8}" text-anchor="middle" font-size="12">fine-tuning QA pairs</text>`,
  );
  datasets.forEach((dataset, i) => {
    const color = COLORS[i % COLORS.length];
    const points = sizes
      .map((size) => rows.find((r) => r.dataset === dataset && r.finetuneSize === size))
      .filter((r): r is ResultRow => r !== undefined);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((r) => `${x(r.finetuneSize)},${y(r.score!.mean)}`).join(" ")}"/>`,
    );
    for (const r of points) {
      const s = r.score!;
      parts.push(
        `<line x1="${x(r.finetuneSize)}" x2="${x(r.finetuneSize)}" y1="${y(s.ci95Low)}" y2="${y(s.ci95High)}" stroke="${color}"/>`,
      );
      parts.push(
        `<circle cx="${x(r.finetuneSize)}" cy="${y(s.mean)}" r="3.5" fill="${color}"><title>${escapeHtml(dataset)} ${r.finetuneSize}: ${s.mean.toFixed(2)} [${s.ci95Low.toFixed(2)}, ${s.ci95High.toFixed(2)}] n=${s.n}</title></circle>`,
      );
    }
    parts.push(
      `<text x="${width - pad.right + 10}" y="${pad.top + 16 * i + 10}" font-size="12" fill="${color}">${escapeHtml(dataset)}</text>`,
    );
  });
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(criterion)} by fine-tuning size, ${escapeHtml(model)}">
<text x="${pad.left}" y="18" font-size="14" font-weight="bold">${escapeHtml(criterion)} — ${escapeHtml(model)}</text>
${parts.join("\n")}</svg></figure>`;
}

export function renderReportHtml(experiment: Experiment, rows: ResultRow[]): string {
  const spec = experiment.spec!;
  const figures: string[] = [];
  for (const model of [...new Set(rows.map((r) => r.baseModel))]) {
    for (const criterion of spec.criteria) {
      const selected = rows.filter(
        (r) =>
          r.baseModel === model &&
          r.criterion === criterion &&
          r.hyperparametersIndex === 0 &&
          (r.finetuneSize === 0 || r.method === spec.methods[0]),
      );
      if (selected.length) figures.push(figure(selected, criterion, model));
    }
  }
  const table = rows
    .map((r) => {
      const s = r.score!;
      const diff =
        r.finetuneSize === 0
          ? ""
          : `${r.diffVsBase >= 0 ? "+" : ""}${r.diffVsBase.toFixed(2)} [${r.diffCi95Low.toFixed(2)}, ${r.diffCi95High.toFixed(2)}]`;
      return `<tr><td>${escapeHtml(r.dataset)}</td><td>${escapeHtml(r.baseModel)}</td><td>${methodLabel(r)}</td><td>${r.finetuneSize}</td><td>${r.hyperparametersIndex}</td><td>${escapeHtml(r.criterion)}</td><td>${s.n}</td><td>${s.mean.toFixed(2)} [${s.ci95Low.toFixed(2)}, ${s.ci95High.toFixed(2)}]</td><td>${diff}</td></tr>`;
    })
    .join("\n");
  const judge = spec.judge!;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ragtune — ${escapeHtml(spec.name)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}figure{display:inline-block;margin:0 1rem 1rem 0}</style>
</head><body>
<h1>${escapeHtml(spec.name)}</h1>
<p>Experiment <code>${escapeHtml(experiment.experimentId)}</code> · state ${experiment.state} · ${experiment.cellsDone}/${experiment.cellsTotal} cells ·
chunks of ${spec.chunking?.chunkSize} characters, top ${spec.topK} · judge mode ${judge.mode} with ${judge.repeats} repeats ·
seed ${spec.seed} · trace <code>${escapeHtml(experiment.traceId)}</code></p>
<p>Scores are means over evaluation questions of each question's mean over judge repeats, with 95% t-intervals;
differences are paired against the base model on the same questions, with 95% paired-bootstrap intervals.</p>
${figures.join("\n")}
<table><thead><tr><th>dataset</th><th>base model</th><th>method</th><th>size</th><th>hp</th><th>criterion</th><th>n</th><th>mean [95% CI]</th><th>Δ vs base [95% CI]</th></tr></thead>
<tbody>
${table}
</tbody></table>
</body></html>
`;
}
