/**
 * One of the paper's figures as SVG: a criterion's score (1–5) against fine-tuning size for one base model, a
 * line per dataset, each point with its 95% interval bar, the base model's score as a dashed reference line,
 * and the paper's published value for the same cell as a hollow diamond where there is one. Every mark carries
 * a class (point, interval, base-reference, paper-point) so a browser test can count what was drawn.
 */
import type { ResultRow } from "@ragtune/contracts/gateway";
import { fixed2 } from "./number-format.js";
import { paperValueFor } from "./paper-results.js";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/** rows: one criterion and base model, one row per dataset × size (the base row has size 0). */
export function renderFigure(rows: ResultRow[], criterion: string, model: string): string {
  const width = 480;
  const height = 310;
  const pad = { left: 50, right: 140, top: 34, bottom: 48 };
  const sizes = [...new Set(rows.map((r) => r.finetuneSize))].sort((a, b) => a - b);
  const datasets = [...new Set(rows.map((r) => r.dataset))];
  const span = width - pad.left - pad.right;
  const x = (size: number) =>
    pad.left + (sizes.length === 1 ? span / 2 : (sizes.indexOf(size) / (sizes.length - 1)) * span);
  const y = (score: number) => pad.top + ((5 - score) / 4) * (height - pad.top - pad.bottom);
  const parts: string[] = [];
  for (let s = 1; s <= 5; s++) {
    parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(s)}" y2="${y(s)}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${pad.left - 8}" y="${y(s) + 4}" text-anchor="end" font-size="11">${s}</text>`);
  }
  for (const size of sizes) {
    parts.push(
      `<text x="${x(size)}" y="${height - pad.bottom + 18}" text-anchor="middle" font-size="11">${size === 0 ? "base" : size}</text>`,
    );
  }
  parts.push(
    `<text x="${pad.left + span / 2}" y="${height - 10}" text-anchor="middle" font-size="12">fine-tuning QA pairs</text>`,
  );
  let legendRow = 0;
  const legend = (text: string, color: string, dashed = false) => {
    const ly = pad.top + 16 * legendRow++ + 6;
    const lx = width - pad.right + 10;
    parts.push(
      `<line x1="${lx}" x2="${lx + 16}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="4 3"' : ""}/>`,
      `<text x="${lx + 21}" y="${ly + 4}" font-size="11" fill="${color}">${escapeHtml(text)}</text>`,
    );
  };
  let anyPaper = false;
  datasets.forEach((dataset, i) => {
    const color = COLORS[i % COLORS.length];
    const points = sizes
      .map((size) => rows.find((r) => r.dataset === dataset && r.finetuneSize === size))
      .filter((r): r is ResultRow => r !== undefined);
    const base = points.find((r) => r.finetuneSize === 0);
    if (base) {
      parts.push(
        `<line class="base-reference" x1="${pad.left}" x2="${width - pad.right}" y1="${y(base.score!.mean)}" y2="${y(base.score!.mean)}" stroke="${color}" stroke-opacity="0.55" stroke-dasharray="4 3"/>`,
      );
    }
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((r) => `${x(r.finetuneSize)},${y(r.score!.mean)}`).join(" ")}"/>`,
    );
    for (const r of points) {
      const s = r.score!;
      const px = x(r.finetuneSize);
      parts.push(
        `<line class="interval" x1="${px}" x2="${px}" y1="${y(s.ci95Low)}" y2="${y(s.ci95High)}" stroke="${color}" stroke-width="1.5"/>`,
        `<line x1="${px - 4}" x2="${px + 4}" y1="${y(s.ci95Low)}" y2="${y(s.ci95Low)}" stroke="${color}"/>`,
        `<line x1="${px - 4}" x2="${px + 4}" y1="${y(s.ci95High)}" y2="${y(s.ci95High)}" stroke="${color}"/>`,
        `<circle class="point" data-dataset="${escapeHtml(dataset)}" data-size="${r.finetuneSize}" cx="${px}" cy="${y(s.mean)}" r="3.5" fill="${color}"><title>${escapeHtml(dataset)} ${r.finetuneSize === 0 ? "base" : r.finetuneSize}: ${fixed2(s.mean)} [${fixed2(s.ci95Low)}, ${fixed2(s.ci95High)}] n=${s.n}</title></circle>`,
      );
      const paper = paperValueFor(r);
      if (paper) {
        anyPaper = true;
        const py = y(paper.mean);
        parts.push(
          `<path class="paper-point" d="M${px + 9},${py - 5} l5,5 l-5,5 l-5,-5 z" fill="white" stroke="${color}" stroke-width="1.5"><title>paper (${escapeHtml(paper.model)}, ${escapeHtml(dataset)} ${r.finetuneSize === 0 ? "base" : r.finetuneSize}): ${fixed2(paper.mean)}</title></path>`,
        );
      }
    }
    legend(dataset, color);
  });
  legend("base (reference)", "#777", true);
  if (anyPaper) {
    const ly = pad.top + 16 * legendRow++ + 6;
    parts.push(
      `<path d="M${width - pad.right + 18},${ly - 5} l5,5 l-5,5 l-5,-5 z" fill="white" stroke="#555"/>`,
      `<text x="${width - pad.right + 31}" y="${ly + 4}" font-size="11">paper</text>`,
    );
  }
  return `<figure class="result-figure" data-criterion="${escapeHtml(criterion)}" data-model="${escapeHtml(model)}"><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(criterion)} by fine-tuning size, ${escapeHtml(model)}">
<text x="${pad.left}" y="20" font-size="14" font-weight="bold">${escapeHtml(criterion)} — ${escapeHtml(model)}</text>
${parts.join("\n")}</svg></figure>`;
}
