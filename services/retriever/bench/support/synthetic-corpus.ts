/** A seeded synthetic corpus with a Zipf-like vocabulary, generated lazily so that it never sits in memory whole. */
import { seededRandom } from "@ragtune/runtime";

const SYLLABLES = "ka lo mi ne su ta ri po ve da zu ho bi ge fa ly qu ox en ar".split(" ");

export interface SyntheticCorpus {
  word(): string;
  sentence(words: number): string;
  /** A document of about `characters` characters. */
  document(characters: number): string;
}

export function createSyntheticCorpus(seed: number, vocabularySize = 20_000): SyntheticCorpus {
  const random = seededRandom(seed);
  const vocabulary = Array.from({ length: vocabularySize }, (_, i) => {
    let word = "";
    for (let n = i + 1; n > 0; n = Math.floor(n / SYLLABLES.length)) word += SYLLABLES[n % SYLLABLES.length];
    return word;
  });
  // Zipf weights 1/rank, sampled through the cumulative sum.
  const cumulative = new Float64Array(vocabularySize);
  let total = 0;
  for (let i = 0; i < vocabularySize; i++) cumulative[i] = total += 1 / (i + 1);
  const word = () => {
    const target = random() * total;
    let lo = 0;
    let hi = vocabularySize - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    return vocabulary[lo];
  };
  const sentence = (words: number) => Array.from({ length: words }, word).join(" ");
  return {
    word,
    sentence,
    document(characters) {
      const parts: string[] = [];
      let length = 0;
      while (length < characters) {
        const s = `${sentence(8 + Math.floor(random() * 12))}.`;
        parts.push(s);
        length += s.length + 1;
      }
      return parts.join(" ");
    },
  };
}
