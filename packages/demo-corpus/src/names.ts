import type { Draw } from "./random.js";

/**
 * Invented names built from syllables, so no model has seen them: an answer about "velorazine" or "Orvane
 * Telquist" can only come from the documents (or a fine-tune on them). Every name is unique across kinds.
 */
const ONSETS = [
  "b",
  "br",
  "d",
  "dr",
  "f",
  "g",
  "gr",
  "k",
  "kl",
  "l",
  "m",
  "n",
  "p",
  "pr",
  "r",
  "s",
  "st",
  "t",
  "tr",
  "v",
  "z",
  "th",
  "sh",
  "qu",
];
const VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ia", "ou"];
const CODAS = ["", "", "", "", "n", "r", "l", "s", "th", "m"];

const COMPOUND_ENDINGS = ["azine", "olide", "umab", "astat", "mycin", "ferol", "tinib", "oxan", "idine", "avir"];
const GENUS_ENDINGS = ["a", "us", "ia", "ella", "ium"];
const SPECIES_ENDINGS = ["ensis", "ata", "ii", "osa", "ica"];
const DISEASE_KINDS = ["syndrome", "disease", "fever", "dystrophy", "palsy", "anaemia"];
const PLACE_ENDINGS = ["", "", "mere", "holt", "wick", "port", "ford", "dal"];

export interface NameMaker {
  /** One invented word of the given syllable count, lower case. */
  word(syllables: number): string;
  person(): string;
  place(): string;
  compound(): string;
  organism(): string;
  /** A gene/protein symbol, e.g. "QRTX7". */
  gene(): string;
  disease(): string;
  /** A CamelCase system name, e.g. "VelnoTrax". */
  system(): string;
}

export function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

export function createNameMaker(draw: Draw): NameMaker {
  const used = new Set<string>();
  const unique = (make: () => string): string => {
    for (;;) {
      const name = make();
      if (!used.has(name.toLowerCase())) {
        used.add(name.toLowerCase());
        return name;
      }
    }
  };
  const syllable = () => draw.pick(ONSETS) + draw.pick(VOWELS) + draw.pick(CODAS);
  const word = (syllables: number) => Array.from({ length: syllables }, syllable).join("");
  return {
    word: (syllables) => unique(() => word(syllables)),
    person: () => unique(() => `${capitalize(word(2))} ${capitalize(word(2))}`),
    place: () => unique(() => capitalize(word(2) + draw.pick(PLACE_ENDINGS))),
    compound: () => unique(() => word(2) + draw.pick(COMPOUND_ENDINGS)),
    organism: () =>
      unique(() => `${capitalize(word(2) + draw.pick(GENUS_ENDINGS))} ${word(2) + draw.pick(SPECIES_ENDINGS)}`),
    gene: () =>
      unique(() => {
        const letters = Array.from({ length: 4 }, () => "BCDFGHJKLMNPQRSTVWXZ"[draw.int(0, 19)]).join("");
        return `${letters}${draw.int(1, 9)}`;
      }),
    disease: () => unique(() => `${capitalize(word(2))} ${draw.pick(DISEASE_KINDS)}`),
    system: () => unique(() => capitalize(word(2)) + capitalize(word(1))),
  };
}
