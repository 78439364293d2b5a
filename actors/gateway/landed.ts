/**
 * Which transactions have landed, as far as this gateway saw in blockExecuted events. A wallet polls for its
 * receipt many times before the transaction lands; once the ledger answered "none" at block N, the same answer
 * holds, without asking the ledger again, for as long as every block after N was seen and none held the
 * transaction. The answer is trusted only while that view is confirmed recently (an event, or the ledger's own
 * head); a gap in the events, a forgotten hash or a quiet spell sends the lookup to the ledger again.
 */
export interface LandedIndexOptions {
  /** Transaction hashes remembered (the oldest are forgotten first). */
  capacity: number;
  /** The view counts as confirmed for this long after the last event or head from the ledger. */
  maxAgeMs: number;
  now: () => number;
}

/** Where the view stood when the ledger was asked: a "not found" answer is true up to `block`. */
export interface AbsentMark {
  block: bigint;
  /** Hashes noted before the mark (to tell whether any noted since could have been forgotten). */
  noted: number;
}

export interface LandedIndex {
  /** A blockExecuted event. */
  noteBlock(number: bigint, transactions: readonly string[]): void;
  /** The ledger's head, learnt from a query: blocks up to it whose events were not seen may have been missed. */
  noteHead(number: bigint): void;
  /** Take before asking the ledger; record it with a "not found" answer. Null while no block was seen. */
  mark(): AbsentMark | null;
  /** Whether a "not found" recorded at `mark` still holds for `hash` without asking the ledger. */
  stillAbsent(hash: string, mark: AbsentMark): boolean;
}

export function createLandedIndex(o: LandedIndexOptions): LandedIndex {
  const hashes = new Set<string>(); // insertion order: the oldest first
  let noted = 0;
  /** The highest block seen, and from where every block up to it was seen: (watchedAfter, last]. */
  let last: bigint | null = null;
  let watchedAfter: bigint | null = null;
  let confirmedAt = -Infinity;

  return {
    noteBlock(number, transactions) {
      for (const h of transactions) {
        const key = h.toLowerCase();
        hashes.delete(key);
        hashes.add(key);
        noted++;
      }
      for (const oldest of hashes) {
        if (hashes.size <= o.capacity) break;
        hashes.delete(oldest);
      }
      if (last === null || number > last + 1n) watchedAfter = number - 1n; // the first event, or a gap before this one
      if (last === null || number >= last) {
        if (last === null || number > last) last = number;
        confirmedAt = o.now();
      }
    },
    noteHead(number) {
      if (last === null || number > last) {
        // Blocks up to `number` whose events we did not see: nothing before it can be vouched for.
        last = number;
        watchedAfter = number;
      }
      if (number >= last) confirmedAt = o.now();
    },
    mark() {
      return last === null ? null : { block: last, noted };
    },
    stillAbsent(hash, mark) {
      if (watchedAfter === null || mark.block < watchedAfter) return false;
      if (o.now() - confirmedAt > o.maxAgeMs) return false;
      if (noted - mark.noted >= o.capacity) return false;
      return !hashes.has(hash.toLowerCase());
    },
  };
}
