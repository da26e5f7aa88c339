/**
 * The HTML report: what was compared and by which judge (in words), the paper's figures (accuracy and
 * completeness by dataset and fine-tuning size, per model, base as reference, interval bars, the paper's
 * published values beside ours), the paired differences with Holm-corrected p-values, the judge's reliability
 * across repeats, the published values table, and every row.
 */
import type { Experiment, ResultRow } from "@ragtune/contracts/gateway";
import { diffWithInterval, fixed2, isPaired, pValue, scoreWithInterval, significant } from "./number-format.js";
import { PAPER_CITATION, PAPER_VALUES } from "./paper-results.js";
import { escapeHtml, renderFigure } from "./report-figure.js";
import { timeBreakdownHtml } from "./time-breakdown-view.js";
import {
  experimentStateName,
  fineTuneLabel,
  judgeLabel,
  methodLabel,
  modelLabel,
  reportStatements,
} from "./run-labels.js";

/** The rows a figure shows: base and the first method's first hyperparameter set, as the paper has one per size. */
export function figureRows(
  experiment: Experiment,
  rows: ResultRow[],
): Array<{ model: string; criterion: string; rows: ResultRow[] }> {
  const spec = experiment.spec!;
  const out: Array<{ model: string; criterion: string; rows: ResultRow[] }> = [];
  for (const model of [...new Set(rows.map((r) => r.baseModel))]) {
    for (const criterion of spec.criteria) {
      const selected = rows.filter(
        (r) =>
          r.baseModel === model &&
          r.criterion === criterion &&
          r.hyperparametersIndex === 0 &&
          (r.finetuneSize === 0 || r.method === spec.methods[0]),
      );
      if (selected.length) out.push({ model, criterion, rows: selected });
    }
  }
  return out;
}

const cell = (text: string | number) => `<td>${typeof text === "number" ? text : escapeHtml(text)}</td>`;
const table = (head: string[], body: string[]) =>
  `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>\n${body.join("\n")}\n</tbody></table>`;

function differencesTable(rows: ResultRow[]): string {
  const tuned = rows.filter((r) => r.finetuneSize > 0);
  if (!tuned.length) return "<p>No fine-tuned cell finished, so there is no difference to show.</p>";
  return table(
    [
      "dataset",
      "model",
      "fine-tune",
      "size",
      "trained on",
      "hp",
      "criterion",
      "paired n",
      "Δ vs base [95% CI]",
      "p",
      "p (Holm)",
      "family",
    ],
    tuned.map(
      (r) =>
        `<tr class="${significant(r) ? "significant" : ""}">${[
          cell(r.dataset),
          cell(r.baseModel),
          cell(fineTuneLabel(r)),
          cell(r.finetuneSize),
          cell(r.trainedOn),
          cell(r.hyperparametersIndex),
          cell(r.criterion),
          cell(r.pairedN),
          cell(`${diffWithInterval(r)}${r.intervalClipped ? " (clipped)" : ""}`),
          cell(isPaired(r) ? pValue(r.diffPValue) : ""),
          cell(isPaired(r) ? `${pValue(r.diffPHolm)}${significant(r) ? " *" : ""}` : ""),
          cell(r.holmFamilySize),
        ].join("")}</tr>`,
    ),
  );
}

function reliabilityTable(rows: ResultRow[]): string {
  return table(
    [
      "dataset",
      "model",
      "fine-tune",
      "size",
      "criterion",
      "judge",
      "repeats per answer",
      "mean within-answer SD",
      "failed repeats",
    ],
    rows.map(
      (r) =>
        `<tr>${[
          cell(r.dataset),
          cell(r.baseModel),
          cell(methodLabel(r)),
          cell(r.finetuneSize),
          cell(r.criterion),
          cell(judgeLabel(r)),
          cell(fixed2(r.judgeRepeats)),
          cell(r.judgeMeanItemStddev.toFixed(3)),
          cell(r.failedRepeats),
        ].join("")}</tr>`,
    ),
  );
}

function paperTable(rows: ResultRow[]): string {
  const body = PAPER_VALUES.map((p) => {
    const ours = rows.find(
      (r) =>
        r.dataset === p.dataset &&
        p.matches.test(r.baseModel) &&
        r.finetuneSize === p.finetuneSize &&
        r.criterion === p.criterion,
    );
    return `<tr>${[
      cell(p.dataset),
      cell(p.model),
      cell(p.finetuneSize === 0 ? "base" : p.finetuneSize),
      cell(p.criterion),
      cell(fixed2(p.mean)),
      cell(ours ? `${scoreWithInterval(ours)} (${ours.baseModel})` : "not in this run"),
    ].join("")}</tr>`;
  });
  return table(["dataset", "paper's model", "size", "criterion", "paper", "this run"], body);
}

function resultsTable(rows: ResultRow[]): string {
  return table(
    [
      "dataset",
      "model",
      "fine-tune",
      "size",
      "trained on",
      "hp",
      "criterion",
      "n",
      "mean [95% CI]",
      "Δ vs base [95% CI]",
      "p (Holm)",
      "judge",
    ],
    rows.map(
      (r) =>
        `<tr>${[
          cell(r.dataset),
          cell(modelLabel(r)),
          cell(fineTuneLabel(r)),
          cell(r.finetuneSize),
          cell(r.trainedOn),
          cell(r.hyperparametersIndex),
          cell(r.criterion),
          cell(r.score!.n),
          cell(`${scoreWithInterval(r)}${r.intervalClipped ? " (clipped)" : ""}`),
          cell(diffWithInterval(r)),
          cell(isPaired(r) ? pValue(r.diffPHolm) : ""),
          cell(judgeLabel(r)),
        ].join("")}</tr>`,
    ),
  );
}

export function renderReportHtml(experiment: Experiment, rows: ResultRow[], about: readonly string[] = []): string {
  const spec = experiment.spec!;
  const figures = figureRows(experiment, rows).map((f) => renderFigure(f.rows, f.criterion, f.model));
  const judges = [...new Set(rows.map(judgeLabel))];
  const manifests = [...new Set(rows.map((r) => `${r.dataset}: ${r.manifestSha256 || "not recorded"}`))];
  const statements = reportStatements(about, rows);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ragtune — ${escapeHtml(spec.name)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}table{border-collapse:collapse;font-size:13px;margin-bottom:1.5rem}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}figure{display:inline-block;margin:0 1rem 1rem 0}.statements{background:#fff6dd;border:1px solid #e0c060;padding:.5rem 1rem}tr.significant td{background:#eef7ee}</style>
</head><body>
<h1>${escapeHtml(spec.name)}</h1>
<p>Experiment <code>${escapeHtml(experiment.experimentId)}</code> · ${escapeHtml(experimentStateName(experiment.state))} · ${experiment.cellsDone}/${experiment.cellsTotal} cells ·
chunks of ${spec.chunking?.chunkSize} characters, top ${spec.topK} · ${judges.map(escapeHtml).join("; ")} · seed ${spec.seed} · trace <code>${escapeHtml(experiment.traceId)}</code></p>
${statements.length ? `<div class="statements"><strong>What these numbers are</strong><ul>${statements.map((s) => `<li>${escapeHtml(s)}</li>`).join("")}</ul></div>` : ""}
<p>Split manifests (SHA-256): ${manifests.map((m) => `<code>${escapeHtml(m)}</code>`).join(", ")}. Every answer, its contexts and every judge repeat's score and rationale are in <code>answers.jsonl</code> beside this report.</p>
<p>A score is the mean over evaluation questions of each question's mean over judge repeats, with a 95% bootstrap
percentile interval (2,000 seeded resamples), which stays on the 1–5 scale; a bound that had to be clipped to the
scale is marked "(clipped)". Δ is paired against the base model on the questions both cells scored (paired n), with
a paired-bootstrap percentile interval; p is a two-sided sign-flip permutation test, Holm-corrected within each
dataset × model × criterion family (* : corrected p &lt; 0.05).</p>
<h2>Figures</h2>
<p>Dashed lines: the base model's score (the reference). Hollow diamonds: the paper's published value for the same cell (${escapeHtml(PAPER_CITATION)}), where it gives one.</p>
${figures.join("\n")}
<h2>Paired differences to the base model</h2>
${differencesTable(rows)}
<h2>Judge reliability</h2>
<p>How far the judge agrees with itself across repeats of the same answer (not agreement with human ratings).
A deterministic judge such as the reference-overlap scorer has a spread of 0 by construction.</p>
${reliabilityTable(rows)}
<h2>Published values</h2>
<p>From ${escapeHtml(PAPER_CITATION)}; only values we are sure of are listed.</p>
${paperTable(rows)}
<h2>All rows</h2>
${resultsTable(rows)}
${timeBreakdownHtml(experiment)}
</body></html>
`;
}
