import { contentTokens, splitSentences, wordTokens } from "./text.js";

/** Feature names in weight order (version 1 of the weights format). Each value is roughly in 0..1. */
export const FEATURE_NAMES = [
  "overlap",
  "idf_overlap",
  "bm25",
  "bigram_overlap",
  "chunk_rank",
  "position",
  "length",
  "short",
  "novelty",
  "cue_number",
  "cue_date",
  "cue_entity",
  "cue_yes_no",
  "previous_overlap",
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];

export interface ReaderContext {
  text: string;
  sourceId?: string;
}

/** A sentence of one context chunk with its feature vector. */
export interface SentenceCandidate {
  text: string;
  /** Index of its chunk in the contexts given (0 = best ranked). */
  contextIndex: number;
  /** Index of the sentence inside its chunk. */
  sentenceIndex: number;
  features: Float64Array;
}

type QuestionKind = "number" | "date" | "entity" | "yes_no" | "other";

function questionKind(question: string): QuestionKind {
  const q = question.trim().toLowerCase();
  if (/^(when|what (year|date|month|day|time|century|decade)|in what year|which year)\b/.test(q)) return "date";
  if (
    /^(how (many|much|long|old|far|big|large|high|tall|often|fast)|what (percentage|proportion|number|fraction|amount))\b/.test(
      q,
    )
  ) {
    return "number";
  }
  if (/^(is|are|was|were|do|does|did|can|could|should|has|have|had|will|would)\b/.test(q)) return "yes_no";
  if (/^(who|whom|whose|which|where|what|name)\b/.test(q)) return "entity";
  return "other";
}

const HAS_NUMBER =
  /\b\d+(?:[.,]\d+)?\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion)\b/i;
const HAS_DATE =
  /\b(1[0-9]{3}|20[0-9]{2})\b|\b(january|february|march|april|may|june|july|august|september|october|november|december)\b|\b\d{1,2}(st|nd|rd|th) century\b/i;

function bigrams(tokens: string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 1; i < tokens.length; i++) out.add(`${tokens[i - 1]} ${tokens[i]}`);
  return out;
}

/** Capitalised words after the first word that the question does not mention: names the question asks for. */
function newCapitalisedWords(sentence: string, questionWords: Set<string>): number {
  const words = sentence.split(/\s+/).slice(1);
  let count = 0;
  for (const word of words) {
    const clean = word.replace(/^[^\p{L}]+|[^\p{L}\p{N}]+$/gu, "");
    if (/^\p{Lu}/u.test(clean) && !questionWords.has(clean.toLowerCase())) count++;
  }
  return count;
}

/**
 * Every sentence of every context with its features. IDF is computed over the sentences given,
 * so a term that appears everywhere in the retrieved text weighs little.
 */
export function extractCandidates(question: string, contexts: readonly ReaderContext[]): SentenceCandidate[] {
  const qTerms = [...new Set(contentTokens(question))];
  const qWords = new Set(wordTokens(question));
  const qBigrams = bigrams(wordTokens(question));
  const kind = questionKind(question);

  const sentences: Array<{
    text: string;
    contextIndex: number;
    sentenceIndex: number;
    count: number;
    terms: string[];
  }> = [];
  contexts.forEach((context, contextIndex) => {
    const split = splitSentences(context.text);
    split.forEach((text, sentenceIndex) => {
      sentences.push({ text, contextIndex, sentenceIndex, count: split.length, terms: contentTokens(text) });
    });
  });
  if (sentences.length === 0) return [];

  const df = new Map<string, number>();
  for (const s of sentences) for (const t of new Set(s.terms)) df.set(t, (df.get(t) ?? 0) + 1);
  const n = sentences.length;
  const idf = (t: string) => Math.log(1 + (n - (df.get(t) ?? 0) + 0.5) / ((df.get(t) ?? 0) + 0.5));
  const qIdfTotal = qTerms.reduce((sum, t) => sum + idf(t), 0) || 1;
  const avgLength = sentences.reduce((sum, s) => sum + s.terms.length, 0) / n || 1;
  const k1 = 1.2;
  const b = 0.75;

  const overlapOf = (terms: string[]) => {
    if (qTerms.length === 0) return 0;
    const set = new Set(terms);
    return qTerms.filter((t) => set.has(t)).length / qTerms.length;
  };

  return sentences.map((s, i) => {
    const set = new Set(s.terms);
    const tf = new Map<string, number>();
    for (const t of s.terms) tf.set(t, (tf.get(t) ?? 0) + 1);
    let idfOverlap = 0;
    let bm25 = 0;
    for (const t of qTerms) {
      if (!set.has(t)) continue;
      idfOverlap += idf(t);
      const f = tf.get(t) ?? 0;
      bm25 += (idf(t) * (f * (k1 + 1))) / (f + k1 * (1 - b + (b * s.terms.length) / avgLength));
    }
    const words = wordTokens(s.text);
    const sBigrams = bigrams(words);
    const bigramOverlap = qBigrams.size === 0 ? 0 : [...qBigrams].filter((g) => sBigrams.has(g)).length / qBigrams.size;
    const overlap = overlapOf(s.terms);
    const previous = i > 0 && sentences[i - 1].contextIndex === s.contextIndex ? overlapOf(sentences[i - 1].terms) : 0;
    const novelty = s.terms.length === 0 ? 0 : s.terms.filter((t) => !qTerms.includes(t)).length / s.terms.length;

    const values: Record<FeatureName, number> = {
      overlap,
      idf_overlap: idfOverlap / qIdfTotal,
      bm25: bm25 / ((k1 + 1) * qIdfTotal),
      bigram_overlap: bigramOverlap,
      chunk_rank: 1 / (1 + s.contextIndex),
      position: s.count <= 1 ? 1 : 1 - s.sentenceIndex / (s.count - 1),
      length: Math.min(1.5, Math.log1p(words.length) / Math.log1p(40)),
      short: words.length < 4 ? 1 : 0,
      novelty,
      cue_number: kind === "number" && HAS_NUMBER.test(s.text) ? 1 : 0,
      cue_date: kind === "date" && HAS_DATE.test(s.text) ? 1 : 0,
      cue_entity: kind === "entity" ? Math.min(1, newCapitalisedWords(s.text, qWords) / 3) : 0,
      cue_yes_no: kind === "yes_no" ? overlap : 0,
      previous_overlap: previous,
    };
    return {
      text: s.text,
      contextIndex: s.contextIndex,
      sentenceIndex: s.sentenceIndex,
      features: Float64Array.from(FEATURE_NAMES, (name) => values[name]),
    };
  });
}
