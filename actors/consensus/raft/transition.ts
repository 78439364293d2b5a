/**
 * One step in progress: a private, mutable copy of the state plus the effects gathered so far. Handlers mutate
 * the draft and record effects through the helpers here, so the bookkeeping that makes the output coherent
 * (what to persist after a truncation, which entries became committed) lives in one place.
 */
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import { appendToLog, emptyLog, lastIndexOf, sliceLog, truncateLog } from './log.js';
import { snapshotConfiguration, truncatedConfigs, withEntries } from './membership.js';
import type { Entry, PeerProgress, ProposalResult, RaftMessage, RaftState, Snapshot, StepResult } from './types.js';

export type Draft = { -readonly [K in Exclude<keyof RaftState, 'votes' | 'progress'>]: RaftState[K] } & {
  votes: Map<string, boolean>;
  progress: Map<string, PeerProgress>;
};

export interface Transition {
  readonly s: Draft;
  readonly messages: RaftMessage[];
  readonly committed: Entry[];
  /** Entries appended during this step that are still in the log (a later truncation filters them). */
  appended: Entry[];
  truncateFrom: number | undefined;
  /** A leader's snapshot replaced the log during this step. */
  installed: Snapshot | undefined;
  proposal: ProposalResult | undefined;
  /** The last index that was durable when the step began: truncating at or below it must reach the disk. */
  readonly durableLastIndex: number;
}

export function beginTransition(state: RaftState): Transition {
  // The maps hold one entry per peer: copying them is cheap and keeps the caller's state untouched.
  const s: Draft = { ...state, votes: new Map(state.votes), progress: new Map(state.progress) };
  return {
    s,
    messages: [],
    committed: [],
    appended: [],
    truncateFrom: undefined,
    installed: undefined,
    proposal: undefined,
    durableLastIndex: lastIndexOf(state.log),
  };
}

export function finishTransition(t: Transition, before: RaftState): StepResult {
  const { s } = t;
  const hardStateChanged = s.term !== before.term || s.votedFor !== before.votedFor;
  return {
    state: s,
    output: {
      persist: {
        ...(hardStateChanged ? { hardState: { term: s.term, votedFor: s.votedFor } } : {}),
        ...(t.installed === undefined ? {} : { snapshot: t.installed }),
        ...(t.truncateFrom === undefined ? {} : { truncateFrom: t.truncateFrom }),
        entries: t.appended,
      },
      messages: t.messages,
      committed: t.committed,
      ...(t.proposal === undefined ? {} : { proposal: t.proposal }),
    },
  };
}

export function send(t: Transition, message: RaftMessage): void {
  t.messages.push(message);
}

export function appendEntries(t: Transition, entries: readonly Entry[]): void {
  if (entries.length === 0) return;
  t.s.log = appendToLog(t.s.log, entries);
  // A config entry takes effect on append (thesis §4.1), committed or not.
  t.s.configs = withEntries(t.s.configs, entries);
  for (const entry of entries) t.appended.push(entry);
}

/** Drops entries with index >= from, which must all be uncommitted (Raft never rewrites committed entries). */
export function truncateFrom(t: Transition, from: number): void {
  if (from <= t.s.commitIndex) {
    throw new CodedError(ErrorCode.Internal, `raft invariant broken: truncating committed index ${from}`, {
      node: t.s.config.id,
      commitIndex: t.s.commitIndex,
    });
  }
  t.s.log = truncateLog(t.s.log, from);
  // ...and is undone with it.
  t.s.configs = truncatedConfigs(t.s.configs, from);
  t.appended = t.appended.filter((entry) => entry.index < from);
  if (from <= t.durableLastIndex) t.truncateFrom = Math.min(t.truncateFrom ?? from, from);
}

/** Moves the commit index forward (never back) and emits the entries that became committed. */
export function commitUpTo(t: Transition, index: number): void {
  const target = Math.min(index, lastIndexOf(t.s.log));
  if (target <= t.s.commitIndex) return;
  for (const entry of sliceLog(t.s.log, t.s.commitIndex + 1, target)) t.committed.push(entry);
  t.s.commitIndex = target;
}

/**
 * Replaces the whole log by a leader's snapshot (its index is past our commit index, and our log does not hold
 * its last entry): what we held after our commit index was never committed, so it may all go.
 */
export function installSnapshot(t: Transition, snapshot: Snapshot): void {
  if (snapshot.index <= t.s.commitIndex) {
    throw new CodedError(ErrorCode.Internal, `raft invariant broken: installing snapshot ${snapshot.index} at or below commit ${t.s.commitIndex}`);
  }
  t.s.log = emptyLog(snapshot.index, snapshot.term);
  t.s.configs = [snapshotConfiguration(snapshot)];
  t.s.snapshot = snapshot;
  t.s.commitIndex = snapshot.index;
  t.appended = [];
  t.truncateFrom = undefined;
  t.installed = snapshot;
}
