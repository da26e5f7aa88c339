/**
 * Qasper v0.3 papers about invented systems for invented languages: `{paper_id: {title, abstract, full_text:
 * [{section_name, paragraphs}], qas: [{question, question_id, …, answers: [{answer: {unanswerable,
 * extractive_spans, yes_no, free_form_answer, evidence, highlighted_evidence}, annotation_id, worker_id}]}],
 * figures_and_tables}}`. Every question names its paper's system, so questions are distinct across papers and
 * a fine-tuning pool can be drawn paper by paper; related-work paragraphs name other systems and scores.
 */
import { capitalize, createNameMaker, type NameMaker } from "./names.js";
import { createDraw, type Draw, hexId } from "./random.js";
import { type Phrasings, phrase } from "./sentences.js";

export interface QasperAnswer {
  answer: {
    unanswerable: boolean;
    extractive_spans: string[];
    yes_no: boolean | null;
    free_form_answer: string;
    evidence: string[];
    highlighted_evidence: string[];
  };
  annotation_id: string;
  worker_id: string;
}

export interface QasperQuestion {
  question: string;
  question_id: string;
  nlp_background: string;
  topic_background: string;
  paper_read: string;
  search_query: string;
  question_writer: string;
  answers: QasperAnswer[];
}

export interface QasperPaper {
  title: string;
  abstract: string;
  full_text: { section_name: string; paragraphs: string[] }[];
  qas: QasperQuestion[];
  figures_and_tables: { caption: string; file: string }[];
}

const TASKS = [
  "morphological tagging",
  "named entity recognition",
  "dependency parsing",
  "sentiment classification",
  "part-of-speech tagging",
  "lemmatization",
];
const ENCODERS = ["BiLSTM", "Transformer", "convolutional encoder", "GRU encoder"];
const METRICS = ["F1", "accuracy", "macro-F1"];
const SOURCES = ["Herald", "Gazette", "Courier", "Chronicle"];

interface Facts {
  system: string;
  language: string;
  task: string;
  speakers: string;
  place: string;
  dataset: string;
  sentences: string;
  annotators: string;
  source: string;
  kappa: string;
  encoder: string;
  layers: string;
  dims: number;
  usesChars: boolean;
  epochs: number;
  baseline: string;
  baselineScore: string;
  score: string;
  delta: string;
  metric: string;
  other1: string;
  other2: string;
  otherLanguage: string;
  otherScore: string;
  otherMetric: string;
}

function drawFacts(draw: Draw, names: NameMaker, previous?: Facts): Facts {
  const baselineScore = draw.int(520, 820) / 10;
  const delta = draw.int(12, 95) / 10;
  return {
    system: names.system(),
    language: `${capitalize(names.word(2))}i`,
    task: draw.pick(TASKS),
    speakers: `${draw.int(20, 900)},000`,
    place: names.place(),
    dataset: `${capitalize(names.word(2))} Corpus`,
    sentences: draw.int(1_500, 48_000).toLocaleString("en-US"),
    annotators: `${draw.pick(["two", "three", "four", "five", "six"])} native speakers from ${names.place()}`,
    source: `the ${names.place()} ${draw.pick(SOURCES)}`,
    kappa: (draw.int(61, 93) / 100).toFixed(2),
    encoder: draw.pick(ENCODERS),
    layers: `${draw.pick(["two", "three", "four", "six"])} layers`,
    dims: draw.pick([128, 256, 384, 512, 768]),
    usesChars: draw.chance(0.5),
    epochs: draw.int(5, 60),
    baseline: names.system(),
    baselineScore: baselineScore.toFixed(1),
    score: (baselineScore + delta).toFixed(1),
    delta: delta.toFixed(1),
    metric: draw.pick(METRICS),
    // The previous paper's system, with its true language and score: another document that shares this
    // paper's words (a system name, a score, a metric) without holding this paper's answers.
    other1: previous?.system ?? names.system(),
    other2: names.system(),
    otherLanguage: previous?.language ?? `${capitalize(names.word(2))}i`,
    otherScore: previous?.score ?? (draw.int(450, 900) / 10).toFixed(1),
    otherMetric: previous?.metric ?? draw.pick(METRICS),
  };
}

const T = {
  title: [
    "{system}: {task} for {language} with Little Annotated Data",
    "Low-Resource {task} in {language} with {system}",
  ],
  abstract: [
    "{language} has almost no annotated resources. We present {system}, a model for {task} in {language}, and a new annotated dataset. {system} improves over the previous best system on every measure we report.",
  ],
  intro1: [
    "{task} for languages with few resources remains difficult. {language}, spoken by about {speakers} people around {place}, has almost no annotated text.",
    "Most work on {task} targets languages with large treebanks. {language} is spoken by roughly {speakers} people near {place}, and few of its texts are annotated.",
  ],
  intro2: [
    "In this paper we present {system}, a model for {task} in {language}, and a new annotated dataset on which we evaluate it against earlier systems.",
  ],
  related1: [
    "Prior work on {language} used {baseline} BIBREF1, a tagger that reached {baselineScore} {metric}. Other systems such as {other1} BIBREF2 and {other2} BIBREF3 target the related language {otherLanguage}, where {other1} reaches {otherScore} {otherMetric}.",
  ],
  data1: [
    "To train and test {system}, we collected the {dataset} from the archives of {source}. The corpus contains {sentences} sentences, annotated by {annotators}.",
    "The dataset for {system}, the {dataset}, was drawn from the archives of {source}. It holds {sentences} sentences that were annotated by {annotators}.",
  ],
  data2: [
    "Inter-annotator agreement on a doubly annotated sample was {kappa} (Cohen's kappa). Disagreements were resolved by discussion.",
  ],
  model1: [
    "{system} encodes each sentence with a {encoder} of {layers} and {dims} hidden dimensions, followed by a linear output layer.",
    "The encoder of {system} is a {encoder} with {layers} and {dims} hidden units per layer.",
  ],
  modelChars: [
    "Word representations in {system} are built from character embeddings, so unseen inflected forms still get a representation.",
  ],
  modelNoChars: [
    "{system} uses word embeddings only; we did not find character embeddings helpful on the development set.",
  ],
  experiments1: [
    "We train {system} for {epochs} epochs with the Adam optimizer and early stopping on the development set. We compare it with {baseline} and with a majority-class baseline.",
  ],
  results1: [
    "{system} reaches {score} {metric} on the test set of the {dataset}, {delta} points above {baseline}.",
    "On the test set of the {dataset}, {system} obtains {score} {metric}, an improvement of {delta} points over {baseline}.",
  ],
  results2: ["Most remaining errors concern rare inflected forms and loanwords."],
  conclusion: ["We presented {system} and the {dataset}. Both are released to support further work on {language}."],
} satisfies Record<string, Phrasings>;

const Q = {
  dataset: [
    "What dataset is {system} evaluated on?",
    "On which corpus is {system} trained and tested?",
    "What data do the authors of {system} use?",
  ],
  sentences: ["How many sentences does the {dataset} contain?", "How large is the {dataset}?"],
  annotators: ["Who annotated the {dataset}?", "Who labelled the sentences of the {dataset}?"],
  source: ["Where do the texts of the {dataset} come from?", "What is the source of the {dataset}?"],
  baseline: [
    "Which earlier system does {system} outperform?",
    "What prior system is {system} compared to?",
    "What baseline do the {system} authors compare against?",
  ],
  score: [
    "What {metric} does {system} reach?",
    "How well does {system} perform on the test set?",
    "What is the test score of {system}?",
  ],
  layers: ["How many layers does the encoder of {system} have?", "How deep is the {system} encoder?"],
  language: ["Which language is {system} built for?", "For what language do the authors develop {system}?"],
  chars: ["Does {system} use character embeddings?", "Are character embeddings part of {system}?"],
} satisfies Record<string, Phrasings>;

export const QASPER_QUESTIONS_PER_PAPER = 7;

function paper(draw: Draw, names: NameMaker, previous?: Facts): { paper: QasperPaper; facts: Facts } {
  const f = drawFacts(draw, names, previous);
  const slots = f as unknown as Record<string, string | number>;
  const p = (phrasings: Phrasings) => phrase(draw, phrasings, slots);
  const sections = {
    intro: [p(T.intro1), p(T.intro2)],
    related: [p(T.related1)],
    data: [p(T.data1), p(T.data2)],
    model: [p(T.model1), p(f.usesChars ? T.modelChars : T.modelNoChars)],
    experiments: [p(T.experiments1)],
    results: [p(T.results1), p(T.results2)],
    conclusion: [p(T.conclusion)],
  };
  const full_text = [
    { section_name: "Introduction", paragraphs: sections.intro },
    { section_name: "Related Work", paragraphs: sections.related },
    { section_name: "Data", paragraphs: sections.data },
    { section_name: "Model", paragraphs: sections.model },
    { section_name: "Experiments", paragraphs: sections.experiments },
    { section_name: "Results", paragraphs: sections.results },
    { section_name: "Conclusion", paragraphs: sections.conclusion },
  ];
  const sentenceWith = (paragraph: string, span: string) =>
    paragraph.split(/(?<=\.)\s+(?=[A-Z])/).find((s) => s.includes(span)) ?? paragraph;
  const annotation = (answer: Partial<QasperAnswer["answer"]>, evidence: string, span: string): QasperAnswer => ({
    answer: {
      unanswerable: false,
      extractive_spans: [],
      yes_no: null,
      free_form_answer: "",
      evidence: [evidence],
      highlighted_evidence: [sentenceWith(evidence, span)],
      ...answer,
    },
    annotation_id: hexId(draw, 40),
    worker_id: hexId(draw, 40),
  });
  const writer = hexId(draw, 40);
  const question = (phrasings: Phrasings, answers: QasperAnswer[]): QasperQuestion => ({
    question: p(phrasings),
    question_id: hexId(draw, 40),
    nlp_background: draw.pick(["two", "five", "infinity"]),
    topic_background: draw.pick(["unfamiliar", "familiar", "research"]),
    paper_read: "no",
    search_query: "",
    question_writer: writer,
    answers,
  });
  // A span question: one annotator marks the span; some papers get a second who marks the whole sentence.
  const spanQuestion = (phrasings: Phrasings, span: string, evidence: string) => {
    const answers = [annotation({ extractive_spans: [span] }, evidence, span)];
    if (draw.chance(0.35)) {
      answers.push(annotation({ extractive_spans: [sentenceWith(evidence, span)] }, evidence, span));
    }
    return question(phrasings, answers);
  };
  const candidates = [
    () => spanQuestion(Q.dataset, f.dataset, sections.data[0]),
    () => spanQuestion(Q.sentences, f.sentences, sections.data[0]),
    () => spanQuestion(Q.annotators, f.annotators, sections.data[0]),
    () => spanQuestion(Q.source, f.source, sections.data[0]),
    () => spanQuestion(Q.baseline, f.baseline, sections.results[0]),
    () => spanQuestion(Q.score, f.score, sections.results[0]),
    () => spanQuestion(Q.layers, f.layers, sections.model[0]),
    () => spanQuestion(Q.language, f.language, sections.intro[0]),
  ];
  const makers = draw.sample(candidates, QASPER_QUESTIONS_PER_PAPER);
  // Yes/no questions are rarer in Qasper than span questions: about one paper in five asks one.
  if (draw.chance(0.2)) {
    makers[makers.length - 1] = () =>
      question(Q.chars, [annotation({ yes_no: f.usesChars }, sections.model[1], "character embeddings")]);
  }
  const qas = makers.map((make) => make());
  const paper: QasperPaper = {
    title: p(T.title),
    abstract: p(T.abstract),
    full_text,
    qas,
    figures_and_tables: [
      { caption: `Table 1: Statistics of the ${f.dataset}.`, file: "3-Table1-1.png" },
      {
        caption: `Table 2: ${f.metric} of ${f.system} and ${f.baseline} on the ${f.dataset} test set.`,
        file: "5-Table2-1.png",
      },
    ],
  };
  return { paper, facts: f };
}

/** `papers` × 7 questions, keyed by arXiv-style ids as Qasper's files are. */
export function generateQasper(seed: number, options: { papers?: number } = {}): Record<string, QasperPaper> {
  const draw = createDraw(seed);
  const names = createNameMaker(draw);
  const out: Record<string, QasperPaper> = {};
  let previous: Facts | undefined;
  while (Object.keys(out).length < (options.papers ?? 200)) {
    const id = `${draw.int(17, 23)}${String(draw.int(1, 12)).padStart(2, "0")}.${String(draw.int(0, 99_999)).padStart(5, "0")}`;
    if (id in out) continue;
    const made = paper(draw, names, previous);
    out[id] = made.paper;
    previous = made.facts;
  }
  return out;
}
