/**
 * The one tokenisation of lexical search, shared by the embedded BM25 index, Qdrant's sparse vectors and the
 * embedded word-vector embedder: NFKC, lower case, split on anything that is not a letter or a digit, English
 * stop words dropped. No stemming, so a term is what a reader sees in the text.
 */

const STOP_WORDS = new Set(
  (
    "a an and are as at be but by for from has have he her his i if in into is it its of on or our she so such " +
    "that the their them then there these they this those to was we were what when where which who whom why will " +
    "with you your"
  ).split(" "),
);

/** Terms longer than this are cut: they are never stop words and a URL or hash need not match beyond it. */
const MAX_TERM_LENGTH = 64;

export function tokenize(text: string): string[] {
  const terms: string[] = [];
  for (const raw of text
    .normalize("NFKC")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)) {
    if (raw.length === 0 || STOP_WORDS.has(raw)) continue;
    terms.push(raw.length > MAX_TERM_LENGTH ? raw.slice(0, MAX_TERM_LENGTH) : raw);
  }
  return terms;
}

/** The distinct terms of a query, in first-seen order (BM25 here sums over distinct query terms). */
export function distinctTerms(text: string): string[] {
  return [...new Set(tokenize(text))];
}
