/**
 * The Raft log as an immutable view: `entries[i - offset - 1]` holds index i for offset < i <= offset + length.
 * Entries up to `offset` were compacted into a snapshot (etcd's `Compact`): only their last term is kept, which
 * is all the log-matching check at the boundary needs.
 *
 * Why a view over a shared array: logs reach 100k entries and a step must not copy them, yet callers may keep
 * an old state (tests replay from it, a shell may retry). Appending pushes onto the shared array only when no
 * other view reaches past this one's end (`entries.length === length`); every older view reads only its own
 * prefix, so it is unaffected. A view that is shorter than its array (after a truncation, or an old state that
 * is stepped a second time) copies its prefix before appending. Truncation only shortens the view; compaction
 * copies the kept suffix once (it runs every few thousand entries, so this stays O(1) amortized per entry).
 */
import type { Entry } from './messages.js';

export interface RaftLog {
  readonly entries: readonly Entry[];
  /** How many entries of `entries` belong to this view (after the offset). */
  readonly length: number;
  /** The last compacted index (0: nothing compacted). */
  readonly offset: number;
  /** The term of the entry at `offset` (0 when offset is 0). */
  readonly offsetTerm: number;
}

export function emptyLog(offset = 0, offsetTerm = 0): RaftLog {
  return { entries: [], length: 0, offset, offsetTerm };
}

/**
 * Builds a log from stored entries (copied once) after an optional snapshot point, rejecting gaps so corruption
 * is loud at startup.
 */
export function logFromEntries(stored: readonly Entry[], offset = 0, offsetTerm = 0): RaftLog {
  const entries = stored.slice();
  let previousTerm = offsetTerm;
  entries.forEach((entry, position) => {
    if (entry.index !== offset + position + 1) {
      throw new RangeError(`stored log is not contiguous from ${offset + 1}: position ${position} holds index ${entry.index}`);
    }
    if (entry.term < previousTerm) {
      throw new RangeError(`stored log goes back in terms at index ${entry.index}`);
    }
    previousTerm = entry.term;
  });
  return { entries, length: entries.length, offset, offsetTerm };
}

export function lastIndexOf(log: RaftLog): number {
  return log.offset + log.length;
}

/** The first index still held as an entry (offset + 1). */
export function firstIndexOf(log: RaftLog): number {
  return log.offset + 1;
}

/** The term of the entry at `index`; 0 for index 0; the snapshot's term at the offset; undefined when absent. */
export function termAt(log: RaftLog, index: number): number | undefined {
  if (index === log.offset) return log.offsetTerm;
  if (index < log.offset || index > lastIndexOf(log)) return undefined;
  return log.entries[index - log.offset - 1].term;
}

export function lastTermOf(log: RaftLog): number {
  return log.length === 0 ? log.offsetTerm : log.entries[log.length - 1].term;
}

export function entryAt(log: RaftLog, index: number): Entry | undefined {
  return index > log.offset && index <= lastIndexOf(log) ? log.entries[index - log.offset - 1] : undefined;
}

/** Entries with index in [from, toInclusive], clamped to what the log holds (compacted entries are absent). */
export function sliceLog(log: RaftLog, from: number, toInclusive: number): Entry[] {
  const start = Math.max(from, log.offset + 1);
  const end = Math.min(toInclusive, lastIndexOf(log));
  return end < start ? [] : log.entries.slice(start - log.offset - 1, end - log.offset);
}

export function appendToLog(log: RaftLog, added: readonly Entry[]): RaftLog {
  if (added.length === 0) return log;
  const shared = log.entries.length === log.length;
  const entries = (shared ? log.entries : log.entries.slice(0, log.length)) as Entry[];
  for (const entry of added) {
    if (entry.index !== log.offset + entries.length + 1) {
      throw new RangeError(`append of index ${entry.index} after ${log.offset + entries.length}`);
    }
    entries.push(entry);
  }
  return { entries, length: entries.length, offset: log.offset, offsetTerm: log.offsetTerm };
}

/** Drops entries with index >= from (never compacted ones: those are committed). */
export function truncateLog(log: RaftLog, from: number): RaftLog {
  if (from <= log.offset) throw new RangeError(`truncation from ${from} reaches the compacted prefix (offset ${log.offset})`);
  return from > lastIndexOf(log) ? log : { ...log, length: from - log.offset - 1 };
}

/** Drops entries up to `index` (which the log must hold, or be its offset), keeping their last term. */
export function compactLog(log: RaftLog, index: number): RaftLog {
  if (index <= log.offset) return log;
  const term = termAt(log, index);
  if (term === undefined) throw new RangeError(`compaction at ${index} past the log's end ${lastIndexOf(log)}`);
  return { entries: log.entries.slice(index - log.offset, log.length), length: lastIndexOf(log) - index, offset: index, offsetTerm: term };
}

/**
 * The largest index <= maxIndex whose term is <= term, searching no lower than the offset. Terms never
 * decrease along a log, so a binary search suffices; this is what turns a refused AppendEntries into a jump
 * over a whole term. When even the offset's term is newer, returns offset - 1 (or 0): an index the log no
 * longer knows, so a leader probing there sends its snapshot.
 */
export function lastIndexWithTermAtMost(log: RaftLog, maxIndex: number, term: number): number {
  if (log.offsetTerm > term) return Math.max(log.offset - 1, 0);
  let low = log.offset; // termAt(offset) <= term
  let high = Math.min(maxIndex, lastIndexOf(log));
  if (high < low) return high;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (log.entries[middle - log.offset - 1].term <= term) low = middle;
    else high = middle - 1;
  }
  return low;
}
