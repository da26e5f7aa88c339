/**
 * BioASQ task-B golden batches about invented compounds: `{"questions": [...]}` with body, type, documents,
 * snippets (text with offsets into a PubMed-style abstract), ideal_answer and exact_answer, as the real files
 * are. The loader's corpus is the questions' snippets grouped by article, so each compound's articles carry
 * several facts (and a sentence about a related compound): a question's neighbours share its vocabulary.
 */
import { createNameMaker } from "./names.js";
import { createDraw, type Draw, hexId } from "./random.js";
import { joinList, type Phrasings, phrase } from "./sentences.js";

export interface BioAsqSnippet {
  offsetInBeginSection: number;
  offsetInEndSection: number;
  text: string;
  beginSection: string;
  endSection: string;
  document: string;
}

export interface BioAsqQuestion {
  documents: string[];
  snippets: BioAsqSnippet[];
  body: string;
  type: "factoid" | "list" | "yesno" | "summary";
  id: string;
  ideal_answer: string[];
  exact_answer?: string | string[][];
}

export interface BioAsqBatch {
  /** File name, e.g. "demoB1_golden.json". */
  name: string;
  questions: BioAsqQuestion[];
}

const SOURCE_KINDS = ["shrub", "soil bacterium", "marine sponge", "lichen", "cave fungus", "freshwater alga"];

const S = {
  target: [
    "{c} is a selective inhibitor of the kinase {g}.",
    "{c} binds the kinase {g} and blocks its activity at nanomolar concentrations.",
    "The primary molecular target of {c} is the kinase {g}.",
  ],
  offTarget: [
    "At micromolar concentrations {c} also binds {list}.",
    "Off-target binding of {c} was detected for {list}.",
    "Besides its main target, {c} weakly inhibits {list}.",
  ],
  compare: [
    "Unlike {c}, the related compound {other} inhibits the kinase {otherTarget}.",
    "The structurally similar compound {other} acts on {otherTarget} rather than on the target of {c}.",
  ],
  source: [
    "{c} was first isolated from {organism}, a {kind} found only near {place}.",
    "The natural source of {c} is {organism}, a {kind} collected in the hills around {place}.",
  ],
  discovery: [
    "{c} was discovered in {year} by {person} at the {institute} Institute.",
    "{person} and colleagues at the {institute} Institute first described {c} in {year}.",
  ],
  trial: [
    "In a phase II trial in {place}, {c} reduced the symptoms of {disease} in {k} of {n} patients.",
    "{c} is being developed for the treatment of {disease}; in a trial of {n} patients in {place}, {k} responded.",
  ],
  clearance: [
    "{c} is cleared mainly by the hepatic enzyme {enzyme}.",
    "Metabolism of {c} depends on the liver enzyme {enzyme}.",
  ],
} satisfies Record<string, Phrasings>;

const Q = {
  target: ["Which kinase is inhibited by {c}?", "What is the molecular target of {c}?", "{c} inhibits which kinase?"],
  source: [
    "From which organism was {c} first isolated?",
    "What is the natural source of {c}?",
    "Which species produces {c}?",
  ],
  discoverer: ["Who discovered {c}?", "Which researcher first described {c}?", "Who reported the discovery of {c}?"],
  year: ["In which year was {c} discovered?", "When was {c} first described?"],
  disease: [
    "Which disease is {c} being tested against?",
    "For the treatment of which condition is {c} developed?",
    "What disease did {c} improve in a phase II trial?",
  ],
  offTargets: [
    "Which proteins does {c} bind off-target?",
    "List the off-target proteins of {c}.",
    "Which secondary targets of {c} have been reported?",
  ],
  clearance: [
    "Is {c} metabolized by {enzyme}?",
    "Does the enzyme {enzyme} clear {c}?",
    "Is {enzyme} involved in the clearance of {c}?",
  ],
  summary: ["What is known about {c}?", "Describe the pharmacology of {c}.", "Summarize the findings on {c}."],
} satisfies Record<string, Phrasings>;

interface Compound {
  name: string;
  target: string;
  offTargets: string[];
  organism: string;
  kind: string;
  sourcePlace: string;
  person: string;
  year: number;
  institute: string;
  disease: string;
  trialPlace: string;
  n: number;
  k: number;
  enzyme: string;
}

interface Article {
  url: string;
  abstract: string;
  /** Sentences of the abstract with their offsets. */
  sentences: { text: string; start: number; end: number }[];
}

function makeArticle(url: string, sentences: string[]): Article {
  const placed: Article["sentences"] = [];
  let offset = 0;
  for (const text of sentences) {
    placed.push({ text, start: offset, end: offset + text.length });
    offset += text.length + 1;
  }
  return { url, abstract: sentences.join(" "), sentences: placed };
}

function snippet(article: Article, index: number): BioAsqSnippet {
  const s = article.sentences[index];
  return {
    offsetInBeginSection: s.start,
    offsetInEndSection: s.end,
    text: s.text,
    beginSection: "abstract",
    endSection: "abstract",
    document: article.url,
  };
}

/** Questions about one compound, each with its gold snippet first. */
function compoundQuestions(draw: Draw, c: Compound, related: Compound, otherEnzyme: string, pmid: () => string) {
  const slots = {
    c: c.name,
    g: c.target,
    list: joinList(c.offTargets),
    other: related.name,
    otherTarget: related.target,
  };
  const a1 = makeArticle(pmid(), [
    phrase(draw, S.target, slots),
    phrase(draw, S.offTarget, slots),
    phrase(draw, S.compare, slots),
  ]);
  const a2 = makeArticle(pmid(), [
    phrase(draw, S.source, { c: c.name, organism: c.organism, kind: c.kind, place: c.sourcePlace }),
    phrase(draw, S.discovery, { c: c.name, year: c.year, person: c.person, institute: c.institute }),
  ]);
  const a3 = makeArticle(pmid(), [
    phrase(draw, S.trial, { c: c.name, place: c.trialPlace, disease: c.disease, n: c.n, k: c.k }),
    phrase(draw, S.clearance, { c: c.name, enzyme: c.enzyme }),
  ]);
  const ask = (
    type: BioAsqQuestion["type"],
    questions: Phrasings,
    extra: Record<string, string>,
    gold: [Article, number][],
    ideal: string[],
    exact?: BioAsqQuestion["exact_answer"],
  ): BioAsqQuestion => {
    const snippets = gold.map(([article, index]) => snippet(article, index));
    return {
      documents: [...new Set(snippets.map((s) => s.document))],
      snippets,
      body: phrase(draw, questions, { c: c.name, ...extra }),
      type,
      id: hexId(draw, 24),
      ideal_answer: ideal,
      ...(exact === undefined ? {} : { exact_answer: exact }),
    };
  };
  const sentence = (article: Article, index: number) => article.sentences[index].text;
  const clearanceIsTrue = draw.chance(0.5);
  const discoverer = draw.chance(0.5);
  return [
    // The related compound's sentence rides along as a snippet, so the corpus holds a plausible wrong answer.
    ask(
      "factoid",
      Q.target,
      {},
      [
        [a1, 0],
        [a1, 2],
      ],
      [sentence(a1, 0)],
      [[c.target]],
    ),
    ask("factoid", Q.source, {}, [[a2, 0]], [sentence(a2, 0)], [[c.organism]]),
    discoverer
      ? ask("factoid", Q.discoverer, {}, [[a2, 1]], [sentence(a2, 1)], [[c.person]])
      : ask("factoid", Q.year, {}, [[a2, 1]], [sentence(a2, 1)], [[String(c.year)]]),
    ask(
      "factoid",
      Q.disease,
      {},
      [
        [a3, 0],
        [a1, 0],
      ],
      [sentence(a3, 0)],
      [[c.disease]],
    ),
    ask(
      "list",
      Q.offTargets,
      {},
      [[a1, 1]],
      [sentence(a1, 1)],
      c.offTargets.map((g) => [g]),
    ),
    ask(
      "yesno",
      Q.clearance,
      { enzyme: clearanceIsTrue ? c.enzyme : otherEnzyme },
      [[a3, 1]],
      [`${clearanceIsTrue ? "Yes" : "No"}. ${sentence(a3, 1)}`],
      clearanceIsTrue ? "yes" : "no",
    ),
    ask(
      "summary",
      Q.summary,
      {},
      [
        [a1, 0],
        [a3, 0],
      ],
      [`${sentence(a1, 0)} ${sentence(a3, 0)}`],
    ),
  ];
}

export const BIOASQ_QUESTIONS_PER_COMPOUND = 7;

/** `compounds` × 7 questions, spread over `batches` files like the golden batches. */
export function generateBioAsq(seed: number, options: { compounds?: number; batches?: number } = {}): BioAsqBatch[] {
  const draw = createDraw(seed);
  const names = createNameMaker(draw);
  const count = options.compounds ?? 200;
  const batchCount = options.batches ?? 5;
  const pmids = new Set<string>();
  const pmid = () => {
    for (;;) {
      const id = String(draw.int(50_000_000, 59_999_999));
      if (!pmids.has(id)) {
        pmids.add(id);
        return `http://www.ncbi.nlm.nih.gov/pubmed/${id}`;
      }
    }
  };
  const institutes = Array.from({ length: 12 }, () => names.place());
  const compounds: Compound[] = Array.from({ length: count }, () => {
    const n = draw.int(24, 180);
    return {
      name: names.compound(),
      target: names.gene(),
      offTargets: Array.from({ length: draw.int(2, 3) }, () => names.gene()),
      organism: names.organism(),
      kind: draw.pick(SOURCE_KINDS),
      sourcePlace: names.place(),
      person: names.person(),
      year: draw.int(1961, 2019),
      institute: draw.pick(institutes),
      disease: names.disease(),
      trialPlace: names.place(),
      n,
      k: draw.int(Math.ceil(n / 4), n - 3),
      enzyme: names.gene(),
    };
  });
  const batches: BioAsqBatch[] = Array.from({ length: batchCount }, (_, i) => ({
    name: `demoB${i + 1}_golden.json`,
    questions: [],
  }));
  compounds.forEach((c, i) => {
    const related = compounds[(i + 1) % compounds.length];
    const questions = compoundQuestions(draw, c, related, related.enzyme, pmid);
    batches[i % batchCount].questions.push(...questions);
  });
  return batches;
}
