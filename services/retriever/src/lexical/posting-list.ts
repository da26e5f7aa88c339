/** One term's postings: the chunks (by ordinal) that hold it and how often, in growable typed arrays. */
export class PostingList {
  ordinals = new Int32Array(4);
  /** Term frequencies, capped at 65,535 (saturated by BM25 long before that). */
  frequencies = new Uint16Array(4);
  length = 0;

  push(ordinal: number, frequency: number): void {
    if (this.length === this.ordinals.length) {
      const ordinals = new Int32Array(this.length * 2);
      ordinals.set(this.ordinals);
      this.ordinals = ordinals;
      const frequencies = new Uint16Array(this.length * 2);
      frequencies.set(this.frequencies);
      this.frequencies = frequencies;
    }
    this.ordinals[this.length] = ordinal;
    this.frequencies[this.length] = Math.min(frequency, 0xffff);
    this.length++;
  }

  /** Drops the entries of chunks that are gone, in place. */
  retain(isLive: (ordinal: number) => boolean): void {
    let kept = 0;
    for (let i = 0; i < this.length; i++) {
      const ordinal = this.ordinals[i]!;
      if (!isLive(ordinal)) continue;
      this.ordinals[kept] = ordinal;
      this.frequencies[kept] = this.frequencies[i]!;
      kept++;
    }
    this.length = kept;
  }
}
