import { type RecordReader, readJsonFile, RecordReader as Reader } from "./record-reader.js";
import { uniqueStrings } from "./text.js";
import type { CorpusDocument, LoadedDataset, QaItem } from "./types.js";

interface QasperAnswer {
  text: string;
  kind: "unanswerable" | "boolean" | "extractive" | "abstractive";
  evidence: string[];
}

/** One annotator's answer, in the precedence Qasper's own evaluator uses. */
function readAnswer(annotation: RecordReader): QasperAnswer {
  const answer = annotation.child("answer");
  const evidence = answer.strings("evidence", { optional: true });
  if (answer.boolean("unanswerable", { optional: true }))
    return { text: "Unanswerable", kind: "unanswerable", evidence };
  if (answer.has("yes_no")) {
    return { text: answer.boolean("yes_no") ? "Yes" : "No", kind: "boolean", evidence };
  }
  const spans = answer.strings("extractive_spans", { optional: true });
  if (spans.length) return { text: spans.join(", "), kind: "extractive", evidence };
  const freeForm = answer.string("free_form_answer", { optional: true });
  if (freeForm.trim()) return { text: freeForm, kind: "abstractive", evidence };
  annotation.fail("answer", "has no answer (not unanswerable, yes_no, extractive_spans or free_form_answer)");
}

/** A paper's text as one document: abstract, then each section's heading and paragraphs, then float captions. */
function paperText(paper: RecordReader): string {
  const parts = [paper.string("abstract", { optional: true })];
  for (const section of paper.array("full_text")) {
    const name = section.string("section_name", { optional: true });
    const paragraphs = section.strings("paragraphs").filter((p) => p.trim());
    if (name.trim()) parts.push(name);
    parts.push(...paragraphs);
  }
  // Evidence may quote a table or figure ("FLOAT SELECTED: Table 1: …"); its caption makes it findable.
  for (const float of paper.array("figures_and_tables", { optional: true })) {
    const caption = float.string("caption", { optional: true });
    if (caption.trim()) parts.push(`FLOAT SELECTED: ${caption}`);
  }
  return parts.filter((p) => p.trim()).join("\n\n");
}

/**
 * Qasper v0.3 JSON (`{paper_id: {title, abstract, full_text, qas, figures_and_tables}}`). One corpus document per
 * paper (metadata paper_id), one QA item per question with every annotator's answer and the union of their evidence.
 */
export async function loadQasper(file: string): Promise<LoadedDataset> {
  const root = new Reader(file, "(file)", await readJsonFile(file));
  const documents: CorpusDocument[] = [];
  const items: QaItem[] = [];
  const skipped: Record<string, number> = {};
  for (const [paperId, raw] of root.entries()) {
    const paper = new Reader(file, `paper ${paperId}`, raw.value);
    const title = paper.string("title", { optional: true });
    documents.push({
      id: paperId,
      title,
      text: paperText(paper),
      metadata: { dataset: "qasper", paper_id: paperId },
    });
    paper.array("qas").forEach((qa, index) => {
      const question = new Reader(file, `paper ${paperId} qas[${index}]`, qa.value);
      const answers = question.array("answers").map(readAnswer);
      if (answers.length === 0) {
        skipped["question without answers"] = (skipped["question without answers"] ?? 0) + 1;
        return;
      }
      const texts = uniqueStrings(answers.map((a) => a.text));
      items.push({
        id: question.string("question_id", { nonEmpty: true }),
        question: question.string("question", { nonEmpty: true }),
        answer: texts[0],
        answers: texts,
        evidence: uniqueStrings(answers.flatMap((a) => a.evidence)),
        evidenceDocumentIds: [paperId],
        type: answers[0].kind,
        metadata: { dataset: "qasper", paper_id: paperId },
      });
    });
  }
  return { dataset: "qasper", sources: [file], documents, items, skipped };
}
