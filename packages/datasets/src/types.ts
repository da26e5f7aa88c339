/** The one shape every dataset loader yields. */

export type DatasetName = "bioasq" | "nq" | "nq-open" | "qasper";

export const DATASET_NAMES: readonly DatasetName[] = ["bioasq", "nq", "nq-open", "qasper"];

/** A source document of the retrieval corpus. */
export interface CorpusDocument {
  /** Unique within the dataset, e.g. a PubMed id, a Wikipedia title, a Qasper paper id. */
  id: string;
  title: string;
  text: string;
  /** Always carries "dataset"; e.g. "paper_id" for Qasper. */
  metadata: Record<string, string>;
}

/** A question with its gold answers and gold evidence. */
export interface QaItem {
  /** Unique within the dataset (the dataset's own id where it has one). */
  id: string;
  question: string;
  /** The reference answer: the first of `answers`. Empty only if there is none. */
  answer: string;
  /** Every acceptable answer (paraphrases, synonyms, annotators' answers). */
  answers: string[];
  /** Gold evidence passages as text (snippets, long answers, evidence paragraphs). */
  evidence: string[];
  /** Ids of the corpus documents that hold the evidence. */
  evidenceDocumentIds: string[];
  /** The dataset's question type, e.g. "factoid", "yesno", "extractive", "unanswerable". */
  type: string;
  metadata: Record<string, string>;
}

export interface LoadedDataset {
  dataset: DatasetName;
  /** Files read. */
  sources: string[];
  documents: CorpusDocument[];
  items: QaItem[];
  /** Records deliberately left out, by reason (never silently). */
  skipped: Record<string, number>;
}
