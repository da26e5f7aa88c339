/**
 * A small BioASQ task-B file written by the test itself: factoid questions whose answers stand in gold snippets,
 * among distractor sentences, so retrieval, the reader and its fine-tune have something real to do.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const compounds = ["alvestin", "borametide", "cyrolase", "dextrafen", "elumizol", "fortanib", "galvurin", "hexomide"];
const targets = ["kinase PX7", "receptor QL2", "channel NaV9", "protease TR4", "enzyme ZQ4", "transporter SL3"];
const effects = ["inhibits", "activates", "binds", "degrades"];

export function writeSyntheticBioAsq(dir: string, count: number): string {
  const questions = [];
  for (let i = 0; i < count; i++) {
    const compound = `${compounds[i % compounds.length]}-${i}`;
    const target = targets[(i * 7) % targets.length];
    const effect = effects[(i * 3) % effects.length];
    const pmid = String(30_000_000 + i);
    const snippet =
      `Pharmacological studies were performed in murine models over twelve weeks. ` +
      `The compound ${compound} ${effect} the ${target} with high selectivity. ` +
      `Dosage was adjusted by body weight and no adverse events were recorded.`;
    questions.push({
      id: `synthetic${i.toString().padStart(4, "0")}`,
      type: "factoid",
      body: `Which protein does ${compound} ${effect.replace(/s$/, "")}?`,
      documents: [`http://www.ncbi.nlm.nih.gov/pubmed/${pmid}`],
      snippets: [
        {
          text: snippet,
          document: `http://www.ncbi.nlm.nih.gov/pubmed/${pmid}`,
          beginSection: "abstract",
          endSection: "abstract",
          offsetInBeginSection: 0,
          offsetInEndSection: snippet.length,
        },
      ],
      ideal_answer: [`${compound} ${effect} the ${target}.`],
      exact_answer: [[target]],
    });
  }
  const path = join(dir, "synthetic_golden.json");
  writeFileSync(path, JSON.stringify({ questions }, null, 1));
  return path;
}
