/** A candidate of a ranking: its score and the id that breaks ties. */
export interface RankedCandidate {
  score: number;
  id: string;
}

/** Best first: higher score, then the smaller id, so equal scores always come back in one order. */
export function compareRanked(a: RankedCandidate, b: RankedCandidate): number {
  return b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
