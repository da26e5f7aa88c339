import { type RecordReader, readJsonLines } from "./record-reader.js";
import { normalizeQuestion, sha256Hex, uniqueStrings } from "./text.js";
import type { CorpusDocument, LoadedDataset, QaItem } from "./types.js";

const HTML_TOKEN = /^<\/?[A-Za-z][^>]*>$/;

/** Title from a Wikipedia URL (`…index.php?title=Foo_bar&oldid=…` or `/wiki/Foo_bar`). */
function titleFromUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const title = parsed.searchParams.get("title") ?? decodeURIComponent(parsed.pathname.split("/").at(-1) ?? "");
    return title.replaceAll("_", " ");
  } catch {
    return "";
  }
}

function span(tokens: string[], start: number, end: number): string {
  return tokens
    .slice(start, end)
    .filter((t) => !HTML_TOKEN.test(t))
    .join(" ");
}

/** A `{start_token, end_token}` span; -1/-1 means none (NQ's convention). */
function tokenRange(range: RecordReader, tokens: number): { start: number; end: number } {
  const start = range.number("start_token");
  const end = range.number("end_token");
  if (start < 0 && end < 0) return { start: -1, end: -1 };
  if (!Number.isInteger(start) || start < 0 || start > tokens) range.fail("start_token", `must be in 0..${tokens}`);
  if (!Number.isInteger(end) || end < start || end > tokens) range.fail("end_token", `must be in ${start}..${tokens}`);
  return { start, end };
}

/**
 * Natural Questions, simplified jsonl (`document_text` as space-separated tokens with HTML tags, token-offset
 * long/short answer annotations), streamed line by line (.gz too). Documents are the Wikipedia pages without the
 * HTML tokens (one per URL); evidence is the annotated long answer; answers are the short answers, or yes/no, or
 * the long answer when an annotator gave only that. Questions no annotator answered are skipped and counted.
 */
export async function loadNaturalQuestions(file: string): Promise<LoadedDataset> {
  const documents = new Map<string, CorpusDocument>();
  const items: QaItem[] = [];
  const skipped: Record<string, number> = {};
  for await (const record of readJsonLines(file)) {
    const idValue = record.child("example_id").value;
    if (typeof idValue !== "string" && typeof idValue !== "number")
      record.fail("example_id", "must be a string or number");
    const id = String(idValue);
    const question = record.string("question_text", { nonEmpty: true });
    const tokens = record.string("document_text", { nonEmpty: true }).split(" ");
    const url = record.string("document_url", { optional: true });
    const title = record.string("document_title", { optional: true }) || titleFromUrl(url);
    const documentKey = url || `example:${id}`;
    const documentId = `nq:${sha256Hex(documentKey).slice(0, 16)}`;
    const longAnswers: string[] = [];
    const shortAnswers: string[] = [];
    for (const annotation of record.array("annotations")) {
      const long = tokenRange(annotation.child("long_answer"), tokens.length);
      if (long.start >= 0 && long.end > long.start) longAnswers.push(span(tokens, long.start, long.end));
      for (const short of annotation.array("short_answers", { optional: true })) {
        const range = tokenRange(short, tokens.length);
        if (range.end > range.start) shortAnswers.push(span(tokens, range.start, range.end));
      }
      const yesNo = annotation.string("yes_no_answer", { optional: true });
      if (yesNo === "YES" || yesNo === "NO") shortAnswers.push(yesNo === "YES" ? "Yes" : "No");
    }
    const evidence = uniqueStrings(longAnswers);
    const answers = uniqueStrings(shortAnswers.length ? shortAnswers : evidence);
    if (answers.length === 0) {
      skipped["no annotated answer"] = (skipped["no annotated answer"] ?? 0) + 1;
      continue;
    }
    if (!documents.has(documentKey)) {
      documents.set(documentKey, {
        id: documentId,
        title,
        text: tokens.filter((t) => !HTML_TOKEN.test(t)).join(" "),
        metadata: { dataset: "nq", url },
      });
    }
    items.push({
      id,
      question,
      answer: answers[0],
      answers,
      evidence,
      evidenceDocumentIds: evidence.length ? [documentId] : [],
      type: shortAnswers.length ? "short" : "long",
      metadata: { dataset: "nq" },
    });
  }
  return { dataset: "nq", sources: [file], documents: [...documents.values()], items, skipped };
}

export interface NqOpenFiles {
  /** NQ-open jsonl: `{"question", "answer": [...]}` per line. */
  questions?: string;
  /** Oracle jsonl(.gz) with gold passages: `{question, answers, ctxs: [{title, text, hasanswer, isgold}], …}`. */
  oracle?: string;
}

interface OracleEntry {
  answers: string[];
  goldPassages: { documentId: string; text: string }[];
}

/**
 * NQ-open. Questions and answers come from the NQ-open file (any answer counts as correct); the corpus and the gold
 * evidence come from the oracle file's passages. With only the oracle, its questions are the items. Repeated
 * question texts are skipped and counted.
 */
export async function loadNqOpen(files: NqOpenFiles): Promise<LoadedDataset> {
  if (!files.questions && !files.oracle) throw new Error("loadNqOpen needs a questions file, an oracle file, or both");
  const documents = new Map<string, CorpusDocument>();
  const oracle = new Map<string, OracleEntry>();
  const oracleOrder: { question: string; entry: OracleEntry }[] = [];
  if (files.oracle) {
    for await (const record of readJsonLines(files.oracle)) {
      const question = record.string("question", { nonEmpty: true });
      const entry: OracleEntry = { answers: record.strings("answers"), goldPassages: [] };
      for (const ctx of record.array("ctxs")) {
        const title = ctx.string("title", { optional: true });
        const text = ctx.string("text", { nonEmpty: true });
        const documentId = `wiki:${sha256Hex(`${title}\n${text}`).slice(0, 16)}`;
        if (!documents.has(documentId)) {
          documents.set(documentId, { id: documentId, title, text, metadata: { dataset: "nq-open", title } });
        }
        if (ctx.boolean("isgold", { optional: true })) entry.goldPassages.push({ documentId, text });
      }
      const key = normalizeQuestion(question);
      if (!oracle.has(key)) {
        oracle.set(key, entry);
        oracleOrder.push({ question, entry });
      }
    }
  }
  const items: QaItem[] = [];
  const skipped: Record<string, number> = {};
  const seen = new Set<string>();
  const addItem = (question: string, answers: string[]) => {
    const key = normalizeQuestion(question);
    if (seen.has(key)) {
      skipped["repeated question"] = (skipped["repeated question"] ?? 0) + 1;
      return;
    }
    seen.add(key);
    const gold = oracle.get(key)?.goldPassages ?? [];
    const unique = uniqueStrings(answers);
    items.push({
      id: `nq-open:${sha256Hex(key).slice(0, 16)}`,
      question,
      answer: unique[0] ?? "",
      answers: unique,
      evidence: uniqueStrings(gold.map((g) => g.text)),
      evidenceDocumentIds: uniqueStrings(gold.map((g) => g.documentId)),
      type: "short",
      metadata: { dataset: "nq-open" },
    });
  };
  if (files.questions) {
    for await (const record of readJsonLines(files.questions)) {
      addItem(record.string("question", { nonEmpty: true }), record.strings("answer"));
    }
  } else {
    for (const { question, entry } of oracleOrder) addItem(question, entry.answers);
  }
  const sources = [files.questions, files.oracle].filter((f): f is string => Boolean(f));
  return { dataset: "nq-open", sources, documents: [...documents.values()], items, skipped };
}
