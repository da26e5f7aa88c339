/** A candidate of a ranking: its score and the id that breaks ties. */
export interface RankedCandidate {
  score: number;
  id: string;
}

/** Best first: higher score, then the smaller id, so equal scores always come back in one order. */
export function compareRanked(a: RankedCandidate, b: RankedCandidate): number {
  return b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The k best of the candidates in compareRanked order, keeping only k at a time (a min-heap whose root is the
 * worst kept), so a query that touches most of a large collection still sorts only k items.
 */
export function selectTopK<T extends RankedCandidate>(candidates: Iterable<T>, k: number): T[] {
  if (k <= 0) return [];
  const heap: T[] = [];
  const worse = (i: number, j: number) => compareRanked(heap[i]!, heap[j]!) > 0;
  const swap = (i: number, j: number) => {
    const t = heap[i]!;
    heap[i] = heap[j]!;
    heap[j] = t;
  };
  const siftDown = (start: number) => {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let worst = i;
      if (left < heap.length && worse(left, worst)) worst = left;
      if (right < heap.length && worse(right, worst)) worst = right;
      if (worst === i) return;
      swap(i, worst);
      i = worst;
    }
  };
  for (const candidate of candidates) {
    if (heap.length < k) {
      heap.push(candidate);
      let i = heap.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(i, parent)) break;
        swap(i, parent);
        i = parent;
      }
    } else if (compareRanked(candidate, heap[0]!) < 0) {
      heap[0] = candidate;
      siftDown(0);
    }
  }
  return heap.sort(compareRanked);
}
