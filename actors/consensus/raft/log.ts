/**
 * The Raft log as an immutable view: `entries[i - 1]` holds index i for i <= length.
 *
 * Why a view over a shared array: logs reach 100k entries and a step must not copy them, yet callers may keep
 * an old state (tests replay from it, a shell may retry). Appending pushes onto the shared array only when no
 * other view reaches past this one's end (`entries.length === length`); every older view reads only its own
 * prefix, so it is unaffected. A view that is shorter than its array (after a truncation, or an old state that
 * is stepped a second time) copies its prefix before appending. Truncation only shortens the view. Steady
 * state costs O(1) amortized per entry; a copy happens only on a conflict truncation or a branching caller.
 */
import type { Entry } from './messages.js';

export interface RaftLog {
  readonly entries: readonly Entry[];
  readonly length: number;
}

export function emptyLog(): RaftLog {
  return { entries: [], length: 0 };
}

/** Builds a log from stored entries (copied once), rejecting gaps so corruption is loud at startup. */
export function logFromEntries(stored: readonly Entry[]): RaftLog {
  const entries = stored.slice();
  let previousTerm = 0;
  entries.forEach((entry, position) => {
    if (entry.index !== position + 1) {
      throw new RangeError(`stored log is not contiguous from 1: position ${position} holds index ${entry.index}`);
    }
    if (entry.term < previousTerm) {
      throw new RangeError(`stored log goes back in terms at index ${entry.index}`);
    }
    previousTerm = entry.term;
  });
  return { entries, length: entries.length };
}

export function lastIndexOf(log: RaftLog): number {
  return log.length;
}

/** The term of the entry at `index`; 0 for index 0 (the empty prefix); undefined when absent. */
export function termAt(log: RaftLog, index: number): number | undefined {
  if (index === 0) return 0;
  if (index < 0 || index > log.length) return undefined;
  return log.entries[index - 1].term;
}

export function lastTermOf(log: RaftLog): number {
  return log.length === 0 ? 0 : log.entries[log.length - 1].term;
}

export function entryAt(log: RaftLog, index: number): Entry | undefined {
  return index >= 1 && index <= log.length ? log.entries[index - 1] : undefined;
}

/** Entries with index in [from, toInclusive], clamped to the log. */
export function sliceLog(log: RaftLog, from: number, toInclusive: number): Entry[] {
  const start = Math.max(from, 1);
  const end = Math.min(toInclusive, log.length);
  return end < start ? [] : log.entries.slice(start - 1, end);
}

export function appendToLog(log: RaftLog, added: readonly Entry[]): RaftLog {
  if (added.length === 0) return log;
  const shared = log.entries.length === log.length;
  const entries = (shared ? log.entries : log.entries.slice(0, log.length)) as Entry[];
  for (const entry of added) {
    if (entry.index !== entries.length + 1) {
      throw new RangeError(`append of index ${entry.index} after ${entries.length}`);
    }
    entries.push(entry);
  }
  return { entries, length: entries.length };
}

/** Drops entries with index >= from. */
export function truncateLog(log: RaftLog, from: number): RaftLog {
  return from > log.length ? log : { entries: log.entries, length: Math.max(from - 1, 0) };
}

/**
 * The largest index <= maxIndex whose term is <= term (0 if none). Terms never decrease along a log, so a
 * binary search suffices; this is what turns a refused AppendEntries into a jump over a whole term.
 */
export function lastIndexWithTermAtMost(log: RaftLog, maxIndex: number, term: number): number {
  let low = 0; // termAt(0) = 0 <= any term
  let high = Math.min(maxIndex, log.length);
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (log.entries[middle - 1].term <= term) low = middle;
    else high = middle - 1;
  }
  return low;
}
