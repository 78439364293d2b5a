/**
 * Snapshots and log compaction (Raft §7, etcd's `Compact` and `MsgSnap`). The application compacts the log at
 * an index it has applied, with a small summary of its own (`data`); the entries before go, in memory and in
 * the application's working set. A follower whose next entries the leader no longer holds gets the snapshot
 * instead, jumps its log to it, and its application fetches what it had not applied from a peer.
 */
import { compactLog, termAt } from './log.js';
import { compactedConfigs } from './membership.js';
import type { InstallSnapshot } from './messages.js';
import { becomeFollower } from './roles.js';
import { snapshotAt } from './state.js';
import { commitUpTo, installSnapshot, send, type Transition } from './transition.js';
import type { RaftState } from './types.js';

/**
 * The state with its log compacted up to `index` (committed, and applied by the caller), recording `data` as
 * the application's summary at that index. A no-op at or below the current compaction point.
 */
export function compact(state: RaftState, index: number, data: unknown): RaftState {
  if (index <= state.log.offset) return state;
  const snapshot = snapshotAt(state, index, data);
  return { ...state, log: compactLog(state.log, index), configs: compactedConfigs(state.configs, index), snapshot };
}

/** Follower side of a leader's snapshot: install it unless our log already agrees up to its index. */
export function handleInstallSnapshot(t: Transition, m: InstallSnapshot): void {
  const { s } = t;
  if (s.role === 'leader') return;
  if (s.role !== 'follower') becomeFollower(s, m.term, m.from);
  s.leaderId = m.from;
  s.electionElapsed = 0;
  const reply = { type: 'AppendEntriesResponse', from: s.config.id, to: m.from, term: s.term, success: true } as const;
  const { snapshot } = m;
  if (snapshot.index <= s.commitIndex) {
    // Stale or duplicate: what we committed matches the leader's log (leader completeness).
    send(t, { ...reply, matchIndex: s.commitIndex });
    return;
  }
  if (termAt(s.log, snapshot.index) === snapshot.term) {
    // Our log holds its last entry: by log matching it holds all of it; keep our log, learn the commit (etcd).
    commitUpTo(t, snapshot.index);
  } else {
    installSnapshot(t, snapshot);
  }
  send(t, { ...reply, matchIndex: snapshot.index });
}
