/**
 * NQ-open about invented towns: the questions file (`{"question", "answer": [...]}` per line, lower case and
 * without a question mark, as NQ's search queries are) and the lost-in-the-middle oracle file
 * (`{question, answers, ctxs: [{title, text, hasanswer, isgold}], nq_annotated_gold}` per line). Each town's
 * article is split into Wikipedia-like passages; an "Economy" passage with its own founder and year rides along
 * as a non-gold ctx, so the corpus holds passages that share a question's words but not its answer.
 */
import { capitalize, createNameMaker } from "./names.js";
import { createDraw, type Draw } from "./random.js";
import { type Phrasings, phrase } from "./sentences.js";

export interface NqOpenQuestion {
  question: string;
  answer: string[];
}

export interface OracleContext {
  title: string;
  text: string;
  hasanswer: boolean;
  isgold: boolean;
}

export interface OracleRecord {
  question: string;
  answers: string[];
  ctxs: OracleContext[];
  nq_annotated_gold: { title: string; long_answer: string; chunked_long_answer: string; short_answers: string[] };
}

export interface NqOpenCorpus {
  questions: NqOpenQuestion[];
  oracle: OracleRecord[];
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const TRADES = ["salt", "wool", "amber", "timber", "glass", "copper", "flax", "pottery"];
const KINDS = ["market town", "river port", "mountain village", "cathedral city", "mill town"];

const P = {
  history: [
    "{town} is a {kind} in the {region} region. It was founded in {year} by {founder}, who built the first {trade} mill on the {river}. The town received its charter {charterGap} years later.",
    "{town} is a {kind} of the {region} region, founded by {founder} in {year}. The settlement grew around a {trade} mill on the {river} and was chartered {charterGap} years after its founding.",
  ],
  geography: [
    "{town} lies on the {bank} bank of the {river}, {distance} kilometres from its sister city {sister}. According to the last census the town has a population of {population}. Its climate is mild, with wet winters.",
    "The town sits on the {bank} bank of the {river}. It is twinned with {sister}, {distance} kilometres downstream, and had a population of {population} at the last census.",
  ],
  culture: [
    "The best-known landmark of {town} is the {landmark}, designed by the architect {architect}. Every {month} the town holds the {festival}, which draws visitors from across the {region} region.",
    "{town}'s {landmark} was designed by {architect} and is the town's best-known building. The {festival} takes place there each {month}.",
  ],
  economy: [
    "The economy of {town} has long depended on the {trade} trade. Its largest employer, the {company} company, was founded in {otherYear} by {otherFounder} and still runs a mill on the {river}.",
    "{town}'s economy rests on {trade}. The {company} company, founded by {otherFounder} in {otherYear}, employs a third of the town's workers.",
  ],
} satisfies Record<string, Phrasings>;

const Q = {
  founder: ["who founded the town of {town}", "who was the founder of {town}", "{town} was founded by whom"],
  year: ["when was {town} founded", "what year was {town} founded", "in which year was the town of {town} founded"],
  region: ["what region is {town} located in", "{town} is in which region", "which region does {town} belong to"],
  river: ["what river does {town} lie on", "which river flows through {town}", "{town} is on the bank of which river"],
  population: [
    "what is the population of {town}",
    "how many people live in {town}",
    "how many inhabitants does {town} have",
  ],
  sister: ["what is the sister city of {town}", "which city is {town} twinned with", "{town} sister city"],
  architect: [
    "who designed the {landmark} in {town}",
    "who was the architect of the {landmark}",
    "{landmark} {town} architect",
  ],
  month: [
    "when is the {festival} held in {town}",
    "in what month does {town} hold the {festival}",
    "what month is the {festival} in {town}",
  ],
} satisfies Record<string, Phrasings>;

type Passage = { title: string; text: string };

function townQuestions(draw: Draw, names: ReturnType<typeof createNameMaker>, region: string): OracleRecord[] {
  const town = names.place();
  const slots = {
    town,
    region,
    kind: draw.pick(KINDS),
    trade: draw.pick(TRADES),
    founder: names.person(),
    year: draw.int(1102, 1890),
    charterGap: draw.int(12, 140),
    river: `${names.place()} River`,
    bank: draw.pick(["north", "south", "east", "west"]),
    distance: draw.int(6, 95),
    sister: names.place(),
    population: draw.int(1_200, 96_000).toLocaleString("en-US"),
    landmark: `${names.place()} ${draw.pick(["Bell Tower", "Bridge", "Abbey", "Town Hall", "Lighthouse"])}`,
    architect: names.person(),
    month: draw.pick(MONTHS),
    festival: `${capitalize(names.word(2))} ${draw.pick(["Fair", "Festival", "Regatta", "Lantern Night"])}`,
    company: capitalize(names.word(2)),
    otherFounder: names.person(),
    otherYear: draw.int(1850, 1990),
  };
  const passage = (phrasings: Phrasings): Passage => ({ title: town, text: phrase(draw, phrasings, slots) });
  const history = passage(P.history);
  const geography = passage(P.geography);
  const culture = passage(P.culture);
  const economy = passage(P.economy);
  const asks: [Phrasings, string, Passage][] = [
    [Q.founder, slots.founder, history],
    [Q.year, String(slots.year), history],
    [Q.region, slots.region, history],
    [Q.river, slots.river, geography],
    [Q.population, slots.population, geography],
    [Q.sister, slots.sister, geography],
    [Q.architect, slots.architect, culture],
    [Q.month, slots.month, culture],
  ];
  // Seven of the eight, so towns differ in which facts are asked.
  const skip = draw.int(0, asks.length - 1);
  return asks
    .filter((_, i) => i !== skip)
    .map(([questions, answer, gold]) => {
      const question = phrase(draw, questions, slots).toLowerCase();
      const ctx = (p: Passage, isgold: boolean): OracleContext => ({
        title: p.title,
        text: p.text,
        hasanswer: p.text.includes(answer),
        isgold,
      });
      return {
        question,
        answers: [answer],
        ctxs: [ctx(gold, true), ctx(economy, false)],
        nq_annotated_gold: {
          title: town,
          long_answer: gold.text,
          chunked_long_answer: gold.text,
          short_answers: [answer],
        },
      };
    });
}

export const NQ_OPEN_QUESTIONS_PER_TOWN = 7;

/** `towns` × 7 questions; the questions file lists them in the same order as the oracle. */
export function generateNqOpen(seed: number, options: { towns?: number } = {}): NqOpenCorpus {
  const draw = createDraw(seed);
  const names = createNameMaker(draw);
  const regions = Array.from({ length: 15 }, () => names.place());
  const oracle: OracleRecord[] = [];
  for (let i = 0; i < (options.towns ?? 200); i++) oracle.push(...townQuestions(draw, names, draw.pick(regions)));
  return { questions: oracle.map((r) => ({ question: r.question, answer: r.answers })), oracle };
}
