/** Cheap text handling for the extractive reader: word tokens, stop words, sentences. */

const STOP_WORDS = new Set(
  (
    "a an the and or but if of at by for with about against between into through during before after above below to from " +
    "up down in out on off over under again further then once here there when where why how all any both each few more most " +
    "other some such no nor not only own same so than too very can will just should now is are was were be been being have " +
    "has had having do does did doing i me my we our you your he him his she her it its they them their what which who whom " +
    "this that these those am would could shall may might must also as s t"
  ).split(" "),
);

/** Lower-cased word tokens (letters, digits, inner hyphens/apostrophes/dots in numbers). */
export function wordTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:[-'.,][\p{L}\p{N}]+)*/gu) ?? [];
}

/** Tokens that carry meaning: stop words removed, and a crude plural/possessive fold so "genes" meets "gene". */
export function contentTokens(text: string): string[] {
  return wordTokens(text)
    .filter((t) => !STOP_WORDS.has(t))
    .map(stem);
}

export function stem(token: string): string {
  if (token.length > 4 && token.endsWith("ies")) return `${token.slice(0, -3)}y`;
  if (token.length > 3 && token.endsWith("s") && !token.endsWith("ss")) return token.slice(0, -1);
  return token;
}

/**
 * Sentences of a chunk: split after . ! ? followed by space and an upper-case letter, digit or
 * bracket, and at line breaks; abbreviations like "e.g." or "Fig." stay inside their sentence.
 */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\n+/)) {
    let start = 0;
    const boundary = /[.!?]["')\]]?\s+(?=["'([]?[\p{Lu}\p{N}])/gu;
    for (let match = boundary.exec(line); match; match = boundary.exec(line)) {
      const end = match.index + match[0].trimEnd().length;
      const before = line.slice(start, end);
      if (/\b(?:e\.g|i\.e|et al|fig|vs|dr|mr|mrs|ms|no|approx|ca)\.$/i.test(before)) continue;
      pushSentence(out, before);
      start = match.index + match[0].length;
    }
    pushSentence(out, line.slice(start));
  }
  return out;
}

function pushSentence(out: string[], text: string) {
  const trimmed = text.trim();
  if (trimmed) out.push(trimmed);
}
