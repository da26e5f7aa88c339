/** The results as a terminal table: the judge and any stand-ins named above the rows, corrected p-values in them. */
import type { ResultRow } from "@ragtune/contracts/gateway";
import { diffWithInterval, isPaired, pValue, scoreWithInterval, significant } from "./number-format.js";
import { judgeLabel, methodLabel, standInStatements } from "./run-labels.js";

export function formatResultsTable(rows: ResultRow[]): string {
  const lines = [...new Set(rows.map(judgeLabel))];
  lines.push(...standInStatements(rows));
  lines.push(
    "dataset      method  size trained criterion      n   mean [95% CI]       pairs  Δ vs base [95% CI]    p (Holm)",
  );
  for (const r of rows) {
    const paired = isPaired(r);
    lines.push(
      [
        r.dataset.padEnd(12),
        methodLabel(r).padEnd(7),
        String(r.finetuneSize).padStart(4),
        String(r.trainedOn).padStart(7),
        r.criterion.padEnd(13),
        String(r.score!.n).padStart(4),
        ` ${scoreWithInterval(r).padEnd(19)}`,
        (paired ? String(r.pairedN) : "").padStart(5),
        ` ${diffWithInterval(r).padEnd(21)}`,
        paired ? `${pValue(r.diffPHolm)}${significant(r) ? " *" : ""}` : "",
      ]
        .join(" ")
        .trimEnd(),
    );
  }
  if (rows.some((r) => r.finetuneSize > 0)) {
    lines.push("p (Holm): sign-flip permutation test, Holm-corrected per dataset × model × criterion; * below 0.05");
  }
  return `${lines.join("\n")}\n`;
}
