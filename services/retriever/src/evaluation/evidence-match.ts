/**
 * Whether a retrieved chunk holds a piece of gold evidence. Chunks are cut at 1,500 characters, so a long
 * evidence paragraph may be split across two chunks and a short snippet may sit inside one: a chunk counts as
 * covering the evidence when they share a run of `minRun` consecutive words (or the whole evidence, if shorter).
 */

const DEFAULT_MIN_RUN = 12;

export function evidenceWords(text: string): string[] {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

/** Pre-computed word runs of one evidence text, for matching against many chunks. */
export interface EvidenceKey {
  runs: Set<string>;
  runLength: number;
}

export function evidenceKey(evidence: string, minRun = DEFAULT_MIN_RUN): EvidenceKey | undefined {
  const words = evidenceWords(evidence);
  if (words.length === 0) return undefined;
  const runLength = Math.min(minRun, words.length);
  const runs = new Set<string>();
  for (let i = 0; i + runLength <= words.length; i++) runs.add(words.slice(i, i + runLength).join(" "));
  return { runs, runLength };
}

export function chunkCoversEvidence(chunkText: string, key: EvidenceKey): boolean {
  const words = evidenceWords(chunkText);
  for (let i = 0; i + key.runLength <= words.length; i++) {
    if (key.runs.has(words.slice(i, i + key.runLength).join(" "))) return true;
  }
  return false;
}

export interface RetrievalScores {
  /** Share of the gold evidence pieces covered by the top k chunks. */
  recall: number;
  /** 1 when any evidence piece is covered in the top k. */
  hit: number;
  /** 1 / rank of the first chunk covering any evidence (0 when none does). */
  reciprocalRank: number;
}

/** Scores one question's ranked chunk texts against its gold evidence. */
export function scoreRetrieval(rankedChunks: string[], evidence: EvidenceKey[], k: number): RetrievalScores {
  const covered = new Set<number>();
  let firstHit = 0;
  rankedChunks.forEach((text, rank) => {
    evidence.forEach((key, e) => {
      if (!chunkCoversEvidence(text, key)) return;
      if (rank < k) covered.add(e);
      if (!firstHit) firstHit = rank + 1;
    });
  });
  return {
    recall: evidence.length ? covered.size / evidence.length : 0,
    hit: covered.size > 0 ? 1 : 0,
    reciprocalRank: firstHit ? 1 / firstHit : 0,
  };
}
