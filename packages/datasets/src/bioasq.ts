import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { type RecordReader, readJsonFile, RecordReader as Reader } from "./record-reader.js";
import { uniqueStrings } from "./text.js";
import type { CorpusDocument, LoadedDataset, QaItem } from "./types.js";

/** JSON files of a directory (sorted), or the path itself when it is a file. */
export async function expandJsonPaths(paths: string | string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of Array.isArray(paths) ? paths : [paths]) {
    if ((await stat(path)).isDirectory()) {
      const names = (await readdir(path)).filter((n) => n.endsWith(".json")).sort();
      out.push(...names.map((n) => join(path, n)));
    } else out.push(path);
  }
  return out;
}

function pubmedId(url: string): string {
  return url.replace(/\/+$/, "").split("/").at(-1) ?? url;
}

/** ideal_answer is a list of paraphrases in most batches, a bare string in a few. */
function idealAnswers(question: RecordReader): string[] {
  if (!question.has("ideal_answer")) return [];
  const ideal = question.child("ideal_answer");
  return typeof ideal.value === "string" ? [ideal.value] : question.strings("ideal_answer");
}

/** exact_answer: "yes"/"no", a list of synonym lists (factoid, list), a flat list in older batches, or absent. */
function exactAnswers(question: RecordReader): string[] {
  if (!question.has("exact_answer")) return [];
  const exact = question.child("exact_answer");
  if (typeof exact.value === "string") return [exact.value];
  return question
    .array("exact_answer")
    .flatMap((entry) =>
      Array.isArray(entry.value) ? entry.items().map((synonym) => synonym.asString()) : [entry.asString()],
    );
}

/**
 * BioASQ task-B JSON (`{"questions": [...]}`), one or more files or a directory of them. The corpus is the pool
 * of gold snippets grouped by PubMed article (the abstracts themselves are not in the files). A question id seen
 * in an earlier file is skipped and counted.
 */
export async function loadBioAsq(paths: string | string[]): Promise<LoadedDataset> {
  const files = await expandJsonPaths(paths);
  const items: QaItem[] = [];
  const seenIds = new Set<string>();
  const snippetsByArticle = new Map<string, string[]>();
  const skipped: Record<string, number> = {};
  for (const file of files) {
    const root = new Reader(file, "(file)", await readJsonFile(file));
    const questions = root.array("questions");
    questions.forEach((q, index) => {
      const question = new Reader(file, `questions[${index}]`, q.value);
      const id = question.string("id", { nonEmpty: true });
      const body = question.string("body", { nonEmpty: true });
      const type = question.string("type", { nonEmpty: true });
      const snippets = question.array("snippets", { optional: true }).map((s) => ({
        text: s.string("text"),
        article: pubmedId(s.string("document", { nonEmpty: true })),
      }));
      const ideal = idealAnswers(question);
      const exact = exactAnswers(question);
      if (seenIds.has(id)) {
        skipped["duplicate question id"] = (skipped["duplicate question id"] ?? 0) + 1;
        return;
      }
      seenIds.add(id);
      for (const snippet of snippets) {
        const list = snippetsByArticle.get(snippet.article) ?? [];
        list.push(snippet.text);
        snippetsByArticle.set(snippet.article, list);
      }
      const answers = uniqueStrings([...ideal, ...exact]);
      items.push({
        id,
        question: body,
        answer: answers[0] ?? "",
        answers,
        evidence: uniqueStrings(snippets.map((s) => s.text)),
        evidenceDocumentIds: uniqueStrings(snippets.map((s) => `pubmed:${s.article}`)),
        type,
        metadata: { dataset: "bioasq", exact_answer: JSON.stringify(exact) },
      });
    });
  }
  const documents: CorpusDocument[] = [...snippetsByArticle].map(([article, texts]) => ({
    id: `pubmed:${article}`,
    title: "",
    text: uniqueStrings(texts).join("\n"),
    metadata: { dataset: "bioasq", pmid: article },
  }));
  return { dataset: "bioasq", sources: files, documents, items, skipped };
}
