/**
 * The reference scorer on real BioASQ questions (../shared/datasets): a paraphrase of the gold answer from the
 * same question must outscore the gold answer of another question, on both criteria, for nearly every question.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { scoreAgainstReference } from "../src/reference-scorer.js";

const file = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../shared/datasets/bioasq/10B1_golden.json");
const skip = existsSync(file) ? false : "needs ../shared/datasets (BioASQ sample), absent here";

interface BioAsqQuestion {
  body: string;
  ideal_answer?: string[];
  snippets?: Array<{ text: string }>;
}

describe("reference scorer on BioASQ 10B1", { skip }, () => {
  it("ranks a paraphrase of the gold answer above another question's answer", () => {
    const questions = (JSON.parse(readFileSync(file, "utf8")) as { questions: BioAsqQuestion[] }).questions.filter(
      (q) => (q.ideal_answer?.length ?? 0) >= 2 && q.snippets?.length,
    );
    assert.ok(questions.length >= 20, `only ${questions.length} questions with two ideal answers`);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    let wins = 0;
    const own: number[] = [];
    const other: number[] = [];
    questions.forEach((q, i) => {
      const reference = {
        referenceAnswers: [q.ideal_answer![0]],
        referenceEvidence: q.snippets!.map((s) => s.text),
      };
      const paraphrase = scoreAgainstReference({ answer: q.ideal_answer![1], ...reference });
      const wrong = scoreAgainstReference({
        answer: questions[(i + 1) % questions.length].ideal_answer![1],
        ...reference,
      });
      own.push(paraphrase.accuracy, paraphrase.completeness);
      other.push(wrong.accuracy, wrong.completeness);
      if (paraphrase.accuracy > wrong.accuracy && paraphrase.completeness > wrong.completeness) wins++;
    });
    console.log(
      `paraphrase won on ${wins}/${questions.length}; mean ${mean(own).toFixed(2)} vs ${mean(other).toFixed(2)}`,
    );
    assert.ok(wins / questions.length >= 0.9, `paraphrase won on ${wins} of ${questions.length}`);
    assert.ok(mean(own) - mean(other) > 1, `gap ${mean(own) - mean(other)} scale points`);
  });
});
