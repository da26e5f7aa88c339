/**
 * The tokens one training pass over RAG training examples reads (each example's question, retrieved chunks and
 * answer), by the usual rule of thumb for English with Llama-family tokenizers: 4 characters a token. No tokenizer
 * is at hand where it is used (the gateway ordering fine-tunes, the trainer's test stand-in timing them); a fine-tune's
 * time grows with it more than with its number of examples (a Qasper example's chunks are long).
 */
const CHARS_PER_TOKEN = 4;

export interface TrainingExampleText {
  question: string;
  answer: string;
  contexts: readonly { text: string }[];
}

export function estimateTrainingTokens(examples: Iterable<TrainingExampleText>): number {
  let chars = 0;
  for (const example of examples) {
    chars += example.question.length + example.answer.length;
    for (const context of example.contexts) chars += context.text.length;
  }
  return Math.ceil(chars / CHARS_PER_TOKEN);
}
