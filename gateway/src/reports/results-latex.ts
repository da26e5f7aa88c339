/**
 * results.tex: the paper's layout as a booktabs table, one block per criterion, a row per dataset × model, a
 * column per fine-tuning size (base first). A cell is the mean with its 95% interval; a fine-tuned cell adds
 * the paired difference to base, starred where the Holm-corrected p is below 0.05. The caption says what the
 * model, fine-tune and judge were and how the numbers were computed.
 */
import type { Experiment, ResultRow } from "@ragtune/contracts/gateway";
import { fixed2, isPaired, signed, significant } from "./number-format.js";
import { judgeLabel, reportStatements } from "./run-labels.js";

export function latexEscape(text: string): string {
  return text
    .replace(/\\/g, "\\textbackslash{}")
    .replace(/([&%$#_{}])/g, "\\$1")
    .replace(/~/g, "\\textasciitilde{}")
    .replace(/\^/g, "\\textasciicircum{}")
    .replace(/–/g, "--")
    .replace(/Δ/g, "$\\Delta$");
}

/** A number's minus sign as a math minus, not a hyphen. */
const minus = (text: string) => text.replace(/(^|[\s[(])-(?=\d)/g, "$1$-$");

function cellText(row: ResultRow | undefined): string {
  if (!row) return "--";
  const s = row.score!;
  const score = `${fixed2(s.mean)} {\\scriptsize[${fixed2(s.ci95Low)}, ${fixed2(s.ci95High)}]}`;
  if (!isPaired(row)) return minus(score);
  return minus(`${score} {\\scriptsize(${signed(row.diffVsBase)}${significant(row) ? "$^{*}$" : ""})}`);
}

export function rowsToLatex(experiment: Experiment, rows: ResultRow[], about: readonly string[] = []): string {
  const spec = experiment.spec!;
  // One hyperparameter set and method per size, as in the paper: the first of each.
  const shown = rows.filter(
    (r) => r.hyperparametersIndex === 0 && (r.finetuneSize === 0 || r.method === spec.methods[0]),
  );
  const sizes = [...new Set(shown.map((r) => r.finetuneSize))].sort((a, b) => a - b);
  const groups = [...new Set(shown.map((r) => `${r.dataset}\u0000${r.baseModel}`))];
  const lines: string[] = [];
  lines.push("% ragtune results; needs \\usepackage{booktabs}");
  lines.push("\\begin{table}[t]", "\\centering", "\\small");
  lines.push(`\\begin{tabular}{ll${"c".repeat(sizes.length)}}`, "\\toprule");
  lines.push(`Dataset & Model & ${sizes.map((s) => (s === 0 ? "Base" : `${s}`)).join(" & ")} \\\\`);
  for (const criterion of spec.criteria) {
    lines.push("\\midrule", `\\multicolumn{${2 + sizes.length}}{l}{\\textit{${latexEscape(criterion)}}} \\\\`);
    for (const group of groups) {
      const [dataset, model] = group.split("\u0000");
      const find = (size: number) =>
        shown.find(
          (r) => r.dataset === dataset && r.baseModel === model && r.criterion === criterion && r.finetuneSize === size,
        );
      lines.push(
        `${latexEscape(dataset)} & ${latexEscape(model)} & ${sizes.map((s) => cellText(find(s))).join(" & ")} \\\\`,
      );
    }
  }
  lines.push("\\bottomrule", "\\end{tabular}");
  const judges = [...new Set(rows.map(judgeLabel))];
  const pairs = shown.filter(isPaired).map((r) => r.pairedN);
  const pairedN = pairs.length
    ? ` (paired n = ${Math.min(...pairs) === Math.max(...pairs) ? pairs[0] : `${Math.min(...pairs)}--${Math.max(...pairs)}`})`
    : "";
  const caption = [
    `${latexEscape(spec.name)}.`,
    ...reportStatements(about, rows).map(latexEscape),
    `${judges.map(latexEscape).join("; ")}.`,
    `Mean judge score (1--5) with its 95\\% bootstrap percentile interval; in parentheses the paired difference to the base model on the same questions${pairedN};`,
    "$^{*}$: sign-flip permutation test, Holm-corrected within each dataset $\\times$ model $\\times$ criterion, $p < 0.05$.",
  ].join(" ");
  lines.push(`\\caption{${caption}}`, `\\label{tab:ragtune-${experiment.experimentId}}`);
  lines.push("\\end{table}");
  return `${lines.join("\n")}\n`;
}
